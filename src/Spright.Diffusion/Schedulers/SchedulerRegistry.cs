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

    // Sampler names of the AUTOMATIC1111 web UI and the diffusers documentation, each only where it is exactly a
    // diffusers configuration. Options a name implies are set explicitly, so a base config with, say,
    // use_karras_sigmas=true does not leak into "DPM++ 2M".
    private static readonly SchedulerAlias[] AliasList =
    [
        Alias("DDIM", "DDIMScheduler"),
        Alias("DDPM", "DDPMScheduler"),
        Alias("PNDM", "PNDMScheduler"),
        Alias("PLMS", "PNDMScheduler", ("skip_prk_steps", true)),
        Alias("LMS", "LMSDiscreteScheduler", ("use_karras_sigmas", false)),
        Alias("LMS Karras", "LMSDiscreteScheduler", ("use_karras_sigmas", true)),
        Alias("Euler", "EulerDiscreteScheduler", ("use_karras_sigmas", false)),
        Alias("Euler Karras", "EulerDiscreteScheduler", ("use_karras_sigmas", true)),
        Alias("Euler a", "EulerAncestralDiscreteScheduler"),
        Alias("Heun", "HeunDiscreteScheduler", ("use_karras_sigmas", false)),
        Alias("Heun Karras", "HeunDiscreteScheduler", ("use_karras_sigmas", true)),
        Alias("DPM2", "KDPM2DiscreteScheduler", ("use_karras_sigmas", false)),
        Alias("DPM2 Karras", "KDPM2DiscreteScheduler", ("use_karras_sigmas", true)),
        Alias("DPM2 a", "KDPM2AncestralDiscreteScheduler", ("use_karras_sigmas", false)),
        Alias("DPM2 a Karras", "KDPM2AncestralDiscreteScheduler", ("use_karras_sigmas", true)),
        Alias("DPM++ 2M", "DPMSolverMultistepScheduler", ("algorithm_type", "dpmsolver++"), ("solver_order", 2), ("use_karras_sigmas", false)),
        Alias("DPM++ 2M Karras", "DPMSolverMultistepScheduler", ("algorithm_type", "dpmsolver++"), ("solver_order", 2), ("use_karras_sigmas", true)),
        Alias("DPM++ 2M SDE", "DPMSolverMultistepScheduler", ("algorithm_type", "sde-dpmsolver++"), ("solver_order", 2), ("use_karras_sigmas", false)),
        Alias("DPM++ 2M SDE Karras", "DPMSolverMultistepScheduler", ("algorithm_type", "sde-dpmsolver++"), ("solver_order", 2), ("use_karras_sigmas", true)),
        Alias("DEIS", "DEISMultistepScheduler"),
        Alias("UniPC", "UniPCMultistepScheduler"),
        Alias("LCM", "LCMScheduler"),
    ];

    private static readonly Dictionary<string, SchedulerAlias> AliasesByName = AliasList.ToDictionary(a => a.Name, StringComparer.OrdinalIgnoreCase);

    private static readonly Dictionary<string, string> ClassNamesIgnoringCase = Factories.Keys.ToDictionary(k => k, StringComparer.OrdinalIgnoreCase);

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

    /// <summary>The sampler names <see cref="CreateByName"/> accepts besides class names ("DPM++ 2M Karras", "Euler a",
    /// "UniPC"…), each with the class and options it stands for.</summary>
    public static IReadOnlyList<SchedulerAlias> Aliases => AliasList;

    /// <summary>
    /// Builds a scheduler from a sampler name ("DPM++ 2M Karras", "Euler a", see <see cref="Aliases"/>) or a diffusers
    /// class name, both case-insensitive, starting from <paramref name="baseConfig"/> (typically the model's
    /// <c>scheduler_config.json</c>): the name's options are applied, then <paramref name="overrides"/>.
    /// </summary>
    /// <param name="nameOrClassName">A sampler name or class name.</param>
    /// <param name="baseConfig">The configuration to start from.</param>
    /// <param name="overrides">Further options, applied after the name's (unknown keys are ignored as in <see cref="Create"/>).</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">The name is neither a sampler name nor a class name (the message lists both).</exception>
    public static IScheduler CreateByName(string nameOrClassName, SchedulerConfig baseConfig, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(nameOrClassName);
        ArgumentNullException.ThrowIfNull(baseConfig);
        string name = nameOrClassName.Trim();
        if (AliasesByName.TryGetValue(name, out SchedulerAlias? alias))
        {
            IEnumerable<KeyValuePair<string, object?>> all = overrides is null ? alias.Overrides : alias.Overrides.Concat(overrides);
            return Create(alias.ClassName, baseConfig, all, logger);
        }
        if (ClassNamesIgnoringCase.TryGetValue(name, out string? className))
        {
            return Create(className, baseConfig, overrides, logger);
        }
        throw new ArgumentException(
            $"Unknown scheduler '{nameOrClassName}'. Sampler names: {string.Join(", ", AliasList.Select(a => a.Name))}. Class names: {string.Join(", ", Names)}.",
            nameof(nameOrClassName));
    }

    /// <summary>Whether <paramref name="nameOrClassName"/> is a sampler name or class name <see cref="CreateByName"/> accepts.</summary>
    /// <param name="nameOrClassName">The name.</param>
    /// <returns><see langword="true"/> when known.</returns>
    public static bool IsKnownName(string nameOrClassName) =>
        nameOrClassName is not null && (AliasesByName.ContainsKey(nameOrClassName.Trim()) || ClassNamesIgnoringCase.ContainsKey(nameOrClassName.Trim()));

    private static SchedulerAlias Alias(string name, string className, params (string Key, object? Value)[] options) =>
        new(name, className, Array.AsReadOnly(options.Select(o => new KeyValuePair<string, object?>(o.Key, o.Value)).ToArray()));

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

/// <summary>A sampler name and the diffusers scheduler configuration it stands for.</summary>
/// <param name="Name">The sampler name, e.g. <c>DPM++ 2M Karras</c>.</param>
/// <param name="ClassName">The diffusers class, e.g. <c>DPMSolverMultistepScheduler</c>.</param>
/// <param name="Overrides">The options the name sets on top of the base configuration.</param>
public sealed record SchedulerAlias(string Name, string ClassName, IReadOnlyList<KeyValuePair<string, object?>> Overrides);
