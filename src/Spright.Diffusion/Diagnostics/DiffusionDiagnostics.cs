namespace Spright.Diffusion.Diagnostics;

/// <summary>
/// Names of the library's tracing and metrics sources, for <c>System.Diagnostics.ActivityListener</c>, OpenTelemetry
/// (<c>AddSource</c> / <c>AddMeter</c>) or <c>dotnet-counters</c>. Every stage of a call is an activity of
/// <see cref="SourceName"/> (<c>spright.generate</c>, <c>spright.tokenize</c>, <c>spright.text_encoder</c>,
/// <c>spright.vae_encoder</c>, <c>spright.prepare</c>, per step <c>spright.scheduler</c>, <c>spright.unet</c> and
/// <c>spright.guidance</c> with a <c>step</c> tag, <c>spright.vae_decoder</c>, <c>spright.postprocess</c>, and
/// <c>spright.load</c>); the meter
/// <see cref="MeterName"/> records <c>spright.stage.duration</c> (seconds, tag <c>stage</c>) and backends add their own
/// instruments (e.g. live sessions). With no listener attached nothing is recorded and nothing is allocated.
/// </summary>
public static class DiffusionDiagnostics
{
    /// <summary>The <c>ActivitySource</c> name: "Spright.Diffusion".</summary>
    public const string SourceName = "Spright.Diffusion";

    /// <summary>The <c>Meter</c> name: "Spright.Diffusion".</summary>
    public const string MeterName = "Spright.Diffusion";

    /// <summary>The activity names, one per stage of a call: <c>spright.generate</c> (a whole call), <c>spright.tokenize</c>,
    /// <c>spright.text_encoder</c>, <c>spright.vae_encoder</c>, <c>spright.prepare</c>, per step <c>spright.scheduler</c>
    /// (scale_model_input, step), <c>spright.unet</c> and <c>spright.guidance</c>, then <c>spright.vae_decoder</c>,
    /// <c>spright.postprocess</c>, and <c>spright.load</c> when a backend loads a component.</summary>
    internal static class Activities
    {
        /// <summary>A whole generate call.</summary>
        public const string Generate = "spright.generate";

        /// <summary>Tokenizing the prompts (and negative prompts).</summary>
        public const string Tokenize = "spright.tokenize";

        /// <summary>One text encoder run.</summary>
        public const string TextEncoder = "spright.text_encoder";

        /// <summary>Image-to-image: preprocessing and VAE encoding of the input image.</summary>
        public const string VaeEncoder = "spright.vae_encoder";

        /// <summary>Everything between the text encoder and the first step (scheduler, initial noise, buffers).</summary>
        public const string Prepare = "spright.prepare";

        /// <summary>One UNet evaluation (tag <c>step</c>).</summary>
        public const string UNet = "spright.unet";

        /// <summary>One step's classifier-free guidance (tag <c>step</c>).</summary>
        public const string Guidance = "spright.guidance";

        /// <summary>One step's scheduler work, <c>scale_model_input</c> and <c>step</c> (tag <c>step</c>).</summary>
        public const string Scheduler = "spright.scheduler";

        /// <summary>The VAE decoder (all images of the call).</summary>
        public const string VaeDecoder = "spright.vae_decoder";

        /// <summary>Decoder output to float arrays and images.</summary>
        public const string Postprocess = "spright.postprocess";

        /// <summary>A backend loading a component (on demand in low-memory mode, or building a graph).</summary>
        public const string Load = "spright.load";
    }
}
