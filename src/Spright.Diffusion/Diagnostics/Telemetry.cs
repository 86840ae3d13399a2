using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Spright.Diffusion.Diagnostics;

/// <summary>The library's <see cref="ActivitySource"/> and <see cref="Meter"/> (see <see cref="DiffusionDiagnostics"/>).</summary>
internal static class Telemetry
{
    public static readonly ActivitySource Source = new(DiffusionDiagnostics.SourceName);

    public static readonly Meter Meter = new(DiffusionDiagnostics.MeterName);

    private static readonly Histogram<double> StageDuration =
        Meter.CreateHistogram<double>("spright.stage.duration", unit: "s", description: "Duration of one stage of a call.");

    /// <summary>Starts a stage's activity (null, at no cost, when nobody listens).</summary>
    public static Activity? Start(string name) => Source.StartActivity(name);

    /// <summary>Starts a per-step stage's activity with its <c>step</c> tag.</summary>
    public static Activity? Start(string name, int step)
    {
        Activity? activity = Source.StartActivity(name);
        activity?.SetTag("step", step);
        return activity;
    }

    /// <summary>Records a stage's duration on the meter when anyone listens.</summary>
    public static void Record(string stage, long startTimestamp)
    {
        if (StageDuration.Enabled)
        {
            StageDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, new KeyValuePair<string, object?>("stage", stage));
        }
    }
}
