using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Logging;

/// <summary>Forwards everything to another logger except one event (e.g. a warning already shown for the original).</summary>
internal sealed class EventFilteringLogger(ILogger inner, EventId dropped) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id != dropped.Id)
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
