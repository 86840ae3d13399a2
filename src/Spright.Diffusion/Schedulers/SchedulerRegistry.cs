using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Maps diffusers scheduler class names (the <c>_class_name</c> of <c>scheduler_config.json</c>, or
/// <c>model_index.json</c>'s scheduler entry) to their implementations.
/// </summary>
public static class SchedulerRegistry
{
    private delegate IScheduler Factory(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger);

    private static readonly Dictionary<string, (SchedulerSignature Signature, Factory Create)> Classes = new[]
    {
        Register(SchedulerSignatures.DDIM, (b, l) => new DDIMScheduler(b, l)),
        Register(SchedulerSignatures.DPMSolverMultistep, (b, l) => new DPMSolverMultistepScheduler(b, l)),
        Register(SchedulerSignatures.DPMSolverSinglestep, (b, l) => new DPMSolverSinglestepScheduler(b, l)),
        Register(SchedulerSignatures.DEIS, (b, l) => new DEISMultistepScheduler(b, l)),
        Register(SchedulerSignatures.UniPC, (b, l) => new UniPCMultistepScheduler(b, l)),
        Register(SchedulerSignatures.LCM, (b, l) => new LCMScheduler(b, l)),
        Register(SchedulerSignatures.DDPM, (b, l) => new DDPMScheduler(b, l)),
        Register(SchedulerSignatures.EulerAncestral, (b, l) => new EulerAncestralDiscreteScheduler(b, l)),
        Register(SchedulerSignatures.Euler, (b, l) => new EulerDiscreteScheduler(b, l)),
        Register(SchedulerSignatures.Heun, (b, l) => new HeunDiscreteScheduler(b, l)),
        Register(SchedulerSignatures.KDPM2Ancestral, (b, l) => new KDPM2AncestralDiscreteScheduler(b, l)),
        Register(SchedulerSignatures.KDPM2, (b, l) => new KDPM2DiscreteScheduler(b, l)),
        Register(SchedulerSignatures.LMS, (b, l) => new LMSDiscreteScheduler(b, l)),
        Register(SchedulerSignatures.PNDM, (b, l) => new PNDMScheduler(b, l)),
    }.ToDictionary(c => c.Signature.ClassName, StringComparer.Ordinal);

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

    private static readonly Dictionary<string, string> ClassNamesIgnoringCase = Classes.Keys.ToDictionary(k => k, StringComparer.OrdinalIgnoreCase);

    /// <summary>Every supported class name.</summary>
    public static IReadOnlyCollection<string> Names => Classes.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Whether <paramref name="className"/> is a supported scheduler.</summary>
    /// <param name="className">A diffusers class name.</param>
    /// <returns><see langword="true"/> when supported.</returns>
    public static bool IsKnown(string className) => className is not null && Classes.ContainsKey(className);

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
        if (!Classes.TryGetValue(className, out (SchedulerSignature Signature, Factory Create) registered))
        {
            throw new ArgumentException($"Unknown scheduler '{className}'. Supported: {string.Join(", ", Names)}.", nameof(className));
        }
        List<KeyValuePair<string, object?>> list = overrides?.ToList() ?? [];
        if (list.Count > 0)
        {
            IReadOnlySet<string> known = registered.Signature.Keys;
            string[] unused = list.Where(kv => !known.Contains(kv.Key)).Select(kv => kv.Key).ToArray();
            if (unused.Length > 0)
            {
                (logger ?? Logging.DiffusionLogging.CreateLogger("Spright.Diffusion.Schedulers." + className)).LogWarning(
                    "The overrides {Keys} are not options of {ClassName} and are ignored.", string.Join(", ", unused), className);
                list = list.Where(kv => known.Contains(kv.Key)).ToList();
            }
        }
        SchedulerConfig effective = list.Count > 0 ? config.With(list) : config;
        return registered.Create(effective, list.Select(kv => kv.Key).ToArray(), logger);
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
        if (!Classes.ContainsKey(className))
        {
            throw new ArgumentException($"Unknown scheduler '{className}'. Supported: {string.Join(", ", Names)}.", nameof(className));
        }
        return InitKeysOf(className);
    }

    /// <summary>The option names (init keys) of a class, or an empty set for unknown classes.</summary>
    internal static IReadOnlySet<string> InitKeysOf(string className) =>
        Classes.TryGetValue(className, out (SchedulerSignature Signature, Factory Create) registered) ? registered.Signature.Keys : new HashSet<string>();

    private static (SchedulerSignature Signature, Factory Create) Register<TOptions>(SchedulerSignature<TOptions> signature, Func<BoundOptions<TOptions>, ILogger?, IScheduler> create)
        where TOptions : SchedulerOptions, new() =>
        (signature, (config, explicitKeys, logger) => create(signature.Bind(config, explicitKeys, logger), logger));
}
