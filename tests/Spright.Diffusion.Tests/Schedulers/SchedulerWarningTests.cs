using Microsoft.Extensions.Logging;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>diffusers warns once about config keys a scheduler does not take (SPRIGHT's DDIM config carries PNDM's
/// skip_prk_steps); the per-call clones the pipeline makes must not repeat it.</summary>
public sealed class SchedulerWarningTests
{
    [Fact]
    public void UnexpectedConfigKeysAreWarnedOnceAndNotAgainByClones()
    {
        var logger = new CapturingLogger();
        SchedulerConfig config = SchedulerConfig.Load(Path.Combine(TestPaths.TinyModel, "scheduler", "scheduler_config.json"));
        DDIMScheduler scheduler = DDIMScheduler.FromConfig(config, logger: logger);
        string warning = Assert.Single(logger.Messages);
        Assert.Contains("skip_prk_steps", warning);

        IScheduler clone = scheduler.Clone();
        clone.Clone();
        Assert.Single(logger.Messages);
        Assert.Equal(scheduler.Config.ToJson(), clone.Config.ToJson());
    }

    private sealed class CapturingLogger : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Add(formatter(state, exception));
    }
}
