using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Cli.Infrastructure;

/// <summary>
/// Writes library warnings (truncated prompts, ignored config keys…) to stderr as one line each. With
/// <c>deferred</c>, lines are held until <see cref="Flush"/>: a command prints them once it has succeeded, and a
/// failing command shows only its one error line (run with --verbose to see everything as it happens).
/// </summary>
internal sealed class StderrLoggerProvider(LogLevel minimum, Action? beforeWrite = null, bool deferred = false) : ILoggerProvider, ILoggerFactory
{
    private readonly ConcurrentQueue<string> _held = new();
    private readonly ConcurrentDictionary<string, bool> _seen = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) => new StderrLogger(this);

    /// <summary>Writes the held lines.</summary>
    public void Flush()
    {
        while (_held.TryDequeue(out string? line))
        {
            Console.Error.WriteLine(line);
        }
    }

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private void Write(string line)
    {
        if (deferred)
        {
            if (_seen.TryAdd(line, true))
            {
                _held.Enqueue(line); // once: e.g. a config warning repeats for every scheduler copy
            }
            return;
        }
        beforeWrite?.Invoke();
        Console.Error.WriteLine(line);
    }

    private sealed class StderrLogger(StderrLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.Minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            string level = logLevel switch
            {
                LogLevel.Warning => "warning",
                LogLevel.Error or LogLevel.Critical => "error",
                _ => "info",
            };
            owner.Write($"{level}: {formatter(state, exception)}");
        }
    }

    private LogLevel Minimum => minimum;
}
