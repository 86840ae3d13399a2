using System.Diagnostics.Metrics;
using Spright.Diffusion.Diagnostics;

namespace Spright.Diffusion.OnnxRuntime;

/// <summary>The backend's instruments on the library's meter (<see cref="DiffusionDiagnostics.MeterName"/>): live ONNX
/// Runtime sessions and UNet runners (each runner owns pinned buffers and bindings), for <c>dotnet-counters</c> or
/// OpenTelemetry; both return to zero when every pipeline is disposed.</summary>
internal static class OnnxMetrics
{
    private static int s_sessions;
    private static int s_runners;

    static OnnxMetrics()
    {
        Telemetry.Meter.CreateObservableUpDownCounter("spright.onnx.sessions", () => Volatile.Read(ref s_sessions),
            description: "ONNX Runtime sessions alive.");
        Telemetry.Meter.CreateObservableUpDownCounter("spright.onnx.unet_runners", () => Volatile.Read(ref s_runners),
            description: "UNet runners (pinned buffers and bindings) alive, in use or pooled.");
    }

    /// <summary>Sessions alive now.</summary>
    public static int Sessions => Volatile.Read(ref s_sessions);

    /// <summary>UNet runners alive now.</summary>
    public static int Runners => Volatile.Read(ref s_runners);

    public static void SessionCreated() => Interlocked.Increment(ref s_sessions);

    public static void SessionDisposed() => Interlocked.Decrement(ref s_sessions);

    public static void RunnerCreated() => Interlocked.Increment(ref s_runners);

    public static void RunnerDisposed() => Interlocked.Decrement(ref s_runners);
}
