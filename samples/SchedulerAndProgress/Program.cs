using System.Globalization;
using Spright.Diffusion;
using Spright.Diffusion.Schedulers;

// Usage: dotnet run --project samples/SchedulerAndProgress -- [MODEL_DIR] [SCHEDULER] [CANCEL_AFTER_SECONDS]
//   MODEL_DIR     a model folder (diffusers or ONNX) ("" or nothing: the tiny random-weight model copied next to this program)
//   SCHEDULER     a diffusers scheduler class name ("" or nothing: EulerAncestralDiscreteScheduler; see SchedulerRegistry.Names)
//   CANCEL_AFTER  cancel automatically after that many seconds (Ctrl+C cancels too)
string modelPath = args.Length > 0 && args[0].Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "models", "tiny-sd2");
string schedulerName = args.Length > 1 && args[1].Length > 0 ? args[1] : "EulerAncestralDiscreteScheduler";

// Cancellation: the pipeline stops within one UNet evaluation and throws OperationCanceledException.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};
if (args.Length > 2)
{
    cancellation.CancelAfter(TimeSpan.FromSeconds(double.Parse(args[2], CultureInfo.InvariantCulture)));
}

using var pipe = (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(modelPath);

// Swap the scheduler as in diffusers: pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config).
// The model's config (its training noise schedule) carries over; diffusers-style overrides go in the third argument.
if (!SchedulerRegistry.IsKnown(schedulerName))
{
    Console.Error.WriteLine($"unknown scheduler '{schedulerName}'; known: {string.Join(", ", SchedulerRegistry.Names)}");
    return 2;
}
pipe.Scheduler = SchedulerRegistry.Create(schedulerName, pipe.Scheduler.Config);

try
{
    var output = pipe.Generate(new TextToImageOptions
    {
        Prompt = ["a red cube on top of a blue sphere"],
        NegativePrompt = ["blurry, low quality"],  // what classifier-free guidance steers away from
        NumInferenceSteps = 20,
        GuidanceScale = 7.5,
        Seed = 42,                                  // same seed, same image: torch.Generator("cpu").manual_seed(42)
        Progress = new ConsoleProgress(),
    }, cancellation.Token);
    output.Images[0].SaveAsPng("cube.png");
    Console.WriteLine($"wrote cube.png ({pipe.Scheduler.GetType().Name}, seed 42)");
    return 0;
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    Console.WriteLine("cancelled: nothing was written");
    return 130;
}

/// <summary>Prints each step as it completes (reported on the generating thread, so lines arrive in order).</summary>
internal sealed class ConsoleProgress : IProgress<GenerationProgress>
{
    public void Report(GenerationProgress value) =>
        Console.WriteLine($"step {value.Step}/{value.TotalSteps}  t={value.Timestep:0.##}  {value.Elapsed.TotalSeconds:0.00} s");
}
