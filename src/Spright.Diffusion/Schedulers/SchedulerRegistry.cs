using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Maps diffusers scheduler class names (the <c>_class_name</c> of <c>scheduler_config.json</c>, or
/// <c>model_index.json</c>'s scheduler entry) to their implementations.
/// </summary>
public static class SchedulerRegistry
{
    private delegate IScheduler Factory(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger);

    private static readonly Dictionary<string, Factory> Factories = new(StringComparer.Ordinal)
    {
        ["DDIMScheduler"] = DDIMScheduler.Create,
        ["DPMSolverMultistepScheduler"] = DPMSolverMultistepScheduler.Create,
        ["DPMSolverSinglestepScheduler"] = DPMSolverSinglestepScheduler.Create,
        ["DEISMultistepScheduler"] = DEISMultistepScheduler.Create,
        ["UniPCMultistepScheduler"] = UniPCMultistepScheduler.Create,
        ["LCMScheduler"] = LCMScheduler.Create,
        ["DDPMScheduler"] = DDPMScheduler.Create,
        ["EulerAncestralDiscreteScheduler"] = EulerAncestralDiscreteScheduler.Create,
        ["EulerDiscreteScheduler"] = EulerDiscreteScheduler.Create,
        ["HeunDiscreteScheduler"] = HeunDiscreteScheduler.Create,
        ["KDPM2AncestralDiscreteScheduler"] = KDPM2AncestralDiscreteScheduler.Create,
        ["KDPM2DiscreteScheduler"] = KDPM2DiscreteScheduler.Create,
        ["LMSDiscreteScheduler"] = LMSDiscreteScheduler.Create,
        ["PNDMScheduler"] = PNDMScheduler.Create,
    };

    private static readonly ConcurrentDictionary<string, IReadOnlyCollection<string>> InitKeys = new(StringComparer.Ordinal);

    /// <summary>Every supported class name.</summary>
    public static IReadOnlyCollection<string> Names => Factories.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Whether <paramref name="className"/> is a supported scheduler.</summary>
    /// <param name="className">A diffusers class name.</param>
    /// <returns><see langword="true"/> when supported.</returns>
    public static bool IsKnown(string className) => className is not null && Factories.ContainsKey(className);

    /// <summary>Builds a scheduler by diffusers class name, like <c>getattr(diffusers, name).from_config(config, **overrides)</c>.</summary>
    /// <param name="className">A diffusers class name such as <c>EulerDiscreteScheduler</c>.</param>
    /// <param name="config">The configuration to start from (any scheduler's).</param>
    /// <param name="overrides">Options to set. As in diffusers' <c>extract_init_dict</c>, an override that is not an option
    /// of <paramref name="className"/> is ignored (with a warning) and does not change the stored configuration.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">Unknown class name or an invalid option value.</exception>
    public static IScheduler Create(string className, SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(className);
        ArgumentNullException.ThrowIfNull(config);
        if (!Factories.TryGetValue(className, out Factory? factory))
        {
            throw new ArgumentException($"Unknown scheduler '{className}'. Supported: {string.Join(", ", Names)}.", nameof(className));
        }
        List<KeyValuePair<string, object?>> list = overrides?.ToList() ?? [];
        if (list.Count > 0)
        {
            IReadOnlyCollection<string> known = InitKeysOf(className);
            string[] unused = list.Where(kv => !known.Contains(kv.Key)).Select(kv => kv.Key).ToArray();
            if (unused.Length > 0)
            {
                (logger ?? Logging.DiffusionLogging.CreateLogger("Spright.Diffusion.Schedulers." + className)).LogWarning(
                    "The overrides {Keys} are not options of {ClassName} and are ignored.", string.Join(", ", unused), className);
                list = list.Where(kv => known.Contains(kv.Key)).ToList();
            }
        }
        SchedulerConfig effective = list.Count > 0 ? config.With(list) : config;
        return factory(effective, list.Select(kv => kv.Key).ToArray(), logger);
    }

    /// <summary>The options a scheduler class reads (its diffusers <c>__init__</c> parameters), for validating user input:
    /// <see cref="Create"/> itself ignores unknown overrides as diffusers' <c>from_config</c> does.</summary>
    /// <param name="className">A supported class name.</param>
    /// <returns>The option names.</returns>
    /// <exception cref="ArgumentException">Unknown class name.</exception>
    public static IReadOnlyCollection<string> OptionNames(string className)
    {
        ArgumentNullException.ThrowIfNull(className);
        if (!Factories.ContainsKey(className))
        {
            throw new ArgumentException($"Unknown scheduler '{className}'. Supported: {string.Join(", ", Names)}.", nameof(className));
        }
        return InitKeysOf(className);
    }

    /// <summary>The option names (init keys) of a class, or an empty set for unknown classes.</summary>
    internal static IReadOnlyCollection<string> InitKeysOf(string className)
    {
        if (!Factories.TryGetValue(className, out Factory? factory))
        {
            return [];
        }
        return InitKeys.GetOrAdd(className, _ =>
        {
            IScheduler probe = factory(SchedulerConfig.Empty, null, NullLogger.Instance);
            return probe.Config.Keys.Where(k => !k.StartsWith('_')).ToHashSet(StringComparer.Ordinal);
        });
    }
}
