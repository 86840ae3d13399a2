using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Spright.Diffusion.Logging;

/// <summary>
/// The library's logging hook, like diffusers' module loggers: set <see cref="LoggerFactory"/> once (for example
/// to a console logger factory) and warnings such as truncated prompts or ignored config keys reach it.
/// </summary>
public static class DiffusionLogging
{
    private static ILoggerFactory s_factory = NullLoggerFactory.Instance;

    /// <summary>The factory every component uses when none is passed explicitly. Defaults to a no-op factory.</summary>
    public static ILoggerFactory LoggerFactory
    {
        get => Volatile.Read(ref s_factory);
        set => Volatile.Write(ref s_factory, value ?? NullLoggerFactory.Instance);
    }

    /// <summary>Creates a logger for <typeparamref name="T"/> from <see cref="LoggerFactory"/>.</summary>
    /// <typeparam name="T">The category type.</typeparam>
    /// <returns>A logger.</returns>
    public static ILogger CreateLogger<T>() => LoggerFactory.CreateLogger<T>();

    /// <summary>Creates a logger with the given category name from <see cref="LoggerFactory"/>.</summary>
    /// <param name="category">The category name.</param>
    /// <returns>A logger.</returns>
    public static ILogger CreateLogger(string category) => LoggerFactory.CreateLogger(category);
}
