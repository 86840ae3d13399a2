using System.Collections.Concurrent;
using System.Diagnostics;
using Spright.Diffusion.Diagnostics;

namespace Spright.Diffusion.Tests.Infrastructure;

/// <summary>
/// Counts the library's stage activities of the calls made on this thread while it lives: it starts a root activity of
/// its own and samples only activities of that trace, so calls in tests running alongside neither show up here nor get
/// an activity (and so allocate nothing) because of this listener.
/// </summary>
internal sealed class StageRecorder : IDisposable
{
    private const string TestSourceName = "Spright.Diffusion.Tests";
    private static readonly ActivitySource TestSource = new(TestSourceName);

    private readonly ActivityListener _listener;
    private readonly Activity _root;
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<int> _unetSteps = new();
    private ActivityTraceId _trace;

    public StageRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is DiffusionDiagnostics.SourceName or TestSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> options) =>
                options.Source.Name == TestSourceName || options.Parent.TraceId == _trace ? ActivitySamplingResult.AllDataAndRecorded : ActivitySamplingResult.None,
            ActivityStopped = Stopped,
        };
        ActivitySource.AddActivityListener(_listener);
        _root = TestSource.StartActivity("test") ?? throw new InvalidOperationException("the test activity was not created");
        _trace = _root.TraceId;
    }

    /// <summary>How many activities named <paramref name="name"/> (see <see cref="DiffusionDiagnostics.Activities"/>) ended.</summary>
    public int Count(string name) => _counts.GetValueOrDefault(name);

    /// <summary>The <c>step</c> tags of the UNet activities, in order.</summary>
    public IReadOnlyList<int> UNetSteps => [.. _unetSteps];

    public void Dispose()
    {
        _root.Stop();
        _trace = default;
        _listener.Dispose();
    }

    private void Stopped(Activity activity)
    {
        if (activity.TraceId != _trace || activity.Source.Name != DiffusionDiagnostics.SourceName)
        {
            return;
        }
        Assert.True(activity.Duration >= TimeSpan.Zero);
        _counts.AddOrUpdate(activity.OperationName, 1, (_, n) => n + 1);
        if (activity.OperationName == DiffusionDiagnostics.Activities.UNet && activity.GetTagItem("step") is int step)
        {
            _unetSteps.Enqueue(step);
        }
    }
}
