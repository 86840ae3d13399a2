using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Cli.Infrastructure;

/// <summary>Writes library warnings (truncated prompts, ignored config keys…) to stderr as one line each.</summary>
internal sealed class StderrLoggerProvider(LogLevel minimum, Action? beforeWrite = null) : ILoggerProvider, ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new StderrLogger(minimum, beforeWrite);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class StderrLogger(LogLevel minimum, Action? beforeWrite) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            beforeWrite?.Invoke();
            string level = logLevel switch
            {
                LogLevel.Warning => "warning",
                LogLevel.Error or LogLevel.Critical => "error",
                _ => "info",
            };
            Console.Error.WriteLine($"{level}: {formatter(state, exception)}");
        }
    }
}
