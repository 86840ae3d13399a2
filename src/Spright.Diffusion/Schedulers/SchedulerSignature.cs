using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Spright.Diffusion.Schedulers;

/// <summary>A scheduler's options as bound, and the resolved configuration they read as (diffusers' <c>scheduler.config</c>).</summary>
/// <param name="Options">The options, validated.</param>
/// <param name="Config">Every option in signature order, <c>_use_default_values</c>, <c>_class_name</c>,
/// <c>_diffusers_version</c>, then the keys this class does not take (kept so switching back restores them).</param>
internal sealed record BoundOptions<TOptions>(TOptions Options, SchedulerConfig Config);

/// <summary>A scheduler class's <c>__init__</c> signature: its option keys in diffusers' order and how each maps to the
/// class's <see cref="SchedulerOptions"/> type.</summary>
internal abstract class SchedulerSignature
{
    /// <summary>The event of the "config attributes … are not expected" warning (clones suppress it: it was shown once).</summary>
    internal static readonly EventId UnexpectedKeysEvent = new(1001, "UnexpectedConfigKeys");

    private protected SchedulerSignature(string className, OptionBinding[] bindings)
    {
        ClassName = className;
        Bindings = bindings;
        OrderedKeys = bindings.SelectMany(b => b.Keys).ToArray();
        Keys = OrderedKeys.ToHashSet(StringComparer.Ordinal);
        if (Keys.Count != OrderedKeys.Count)
        {
            throw new InvalidOperationException($"{className}'s signature lists a key twice.");
        }
    }

    /// <summary>The diffusers class name.</summary>
    public string ClassName { get; }

    /// <summary>The options, in signature order.</summary>
    public IReadOnlyList<OptionBinding> Bindings { get; }

    /// <summary>Every option key, in signature order.</summary>
    public IReadOnlyList<string> OrderedKeys { get; }

    /// <summary>Every option key (diffusers' init keys).</summary>
    public IReadOnlySet<string> Keys { get; }
}

/// <summary>
/// Binds a configuration to <typeparamref name="TOptions"/> the way diffusers' <c>ConfigMixin.extract_init_dict</c> and
/// <c>register_to_config</c> do: every option has the options type's default; keys listed in <c>_use_default_values</c>
/// (defaults of the class that wrote the configuration) are dropped unless overridden explicitly, so this class applies
/// its own defaults; keys this class does not take are kept "hidden" in the resolved configuration, and those that are
/// not options of the configuration's own class either are warned about once.
/// </summary>
internal sealed class SchedulerSignature<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions>
    : SchedulerSignature
    where TOptions : SchedulerOptions, new()
{
    private const string DefaultDiffusersVersion = "0.31.0";

    private readonly PropertyInfo?[] _properties;

    public SchedulerSignature(string className, OptionBinding[] bindings)
        : base(className, bindings)
    {
        _properties = bindings.Select(b => b.Property is null
            ? null
            : typeof(TOptions).GetProperty(b.Property) ?? throw new InvalidOperationException($"{typeof(TOptions).Name} has no property {b.Property}.")).ToArray();
    }

    /// <summary>Binds a configuration (possibly another class's), like <c>from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration, overrides already applied.</param>
    /// <param name="explicitKeys">The keys overridden explicitly: kept even when <c>_use_default_values</c> lists them.</param>
    /// <param name="logger">Where the warning about unexpected keys goes.</param>
    /// <exception cref="ArgumentException">A value is invalid (the message names the key and what it allows).</exception>
    public BoundOptions<TOptions> Bind(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(config);
        explicitKeys ??= [];
        foreach (string key in explicitKeys)
        {
            if (!Keys.Contains(key))
            {
                throw new ArgumentException($"{ClassName} has no option '{key}'. Known options: {string.Join(", ", Keys.Order(StringComparer.Ordinal))}.", key);
            }
        }
        config = WithoutUsedDefaults(config, explicitKeys);

        var options = new TOptions();
        var resolved = new List<KeyValuePair<string, object?>>(OrderedKeys.Count + 3);
        var defaulted = new List<string>();
        Span<JsonNode?> written = new JsonNode?[3];
        JsonNode?[] nodes = new JsonNode?[3];
        bool[] present = new bool[3];
        for (int b = 0; b < Bindings.Count; b++)
        {
            OptionBinding binding = Bindings[b];
            PropertyInfo? property = _properties[b];
            int count = binding.Keys.Count;
            bool any = false;
            for (int i = 0; i < count; i++)
            {
                present[i] = config.TryGetValue(binding.Keys[i], out nodes[i]);
                any |= present[i];
                if (!present[i])
                {
                    defaulted.Add(binding.Keys[i]);
                }
            }
            object? value = property?.GetValue(options);
            if (any)
            {
                value = binding.Read(ClassName, nodes.AsSpan(0, count), present.AsSpan(0, count), value);
                property?.SetValue(options, value);
            }
            binding.Write(value, written[..count]);
            for (int i = 0; i < count; i++)
            {
                JsonNode? node = present[i] && binding.KeepsInputNode ? nodes[i]?.DeepClone() : written[i];
                resolved.Add(new(binding.Keys[i], node));
            }
        }

        string? originalClass = config.ClassName;
        IReadOnlySet<string> originalKeys = originalClass is not null && originalClass != ClassName
            ? SchedulerRegistry.InitKeysOf(originalClass)
            : new HashSet<string>();
        var unexpected = new List<string>();
        var hidden = new List<KeyValuePair<string, object?>>();
        foreach (KeyValuePair<string, JsonNode?> kv in config)
        {
            if (Keys.Contains(kv.Key) || kv.Key is "_class_name" or "_diffusers_version" or "_use_default_values")
            {
                continue;
            }
            hidden.Add(new(kv.Key, kv.Value));
            if (!kv.Key.StartsWith('_') && !originalKeys.Contains(kv.Key))
            {
                unexpected.Add(kv.Key);
            }
        }
        if (unexpected.Count > 0)
        {
            logger?.LogWarning(UnexpectedKeysEvent,
                "The config attributes {Attributes} were passed to {ClassName}, but are not expected and will be ignored.",
                string.Join(", ", unexpected), ClassName);
        }

        if (defaulted.Count > 0)
        {
            resolved.Add(new("_use_default_values", new JsonArray(defaulted.Order(StringComparer.Ordinal).Select(k => (JsonNode?)JsonValue.Create(k)).ToArray())));
        }
        resolved.Add(new("_class_name", ClassName));
        resolved.Add(new("_diffusers_version", config.TryGetValue("_diffusers_version", out JsonNode? version) && version is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : DefaultDiffusersVersion));
        resolved.AddRange(hidden);
        return new BoundOptions<TOptions>(options, SchedulerConfig.FromValues(resolved));
    }

    /// <summary>Binds options given directly (<c>DDIMScheduler(beta_end=…)</c>): the values are validated like a
    /// configuration's, and those equal to the class's defaults count as defaulted.</summary>
    /// <param name="options">The options.</param>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public BoundOptions<TOptions> Bind(TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var defaults = new TOptions();
        var given = new List<KeyValuePair<string, object?>>();
        var node = new JsonNode?[3];
        var defaultNode = new JsonNode?[3];
        for (int b = 0; b < Bindings.Count; b++)
        {
            OptionBinding binding = Bindings[b];
            PropertyInfo? property = _properties[b];
            int count = binding.Keys.Count;
            binding.Write(property?.GetValue(options), node.AsSpan(0, count));
            binding.Write(property?.GetValue(defaults), defaultNode.AsSpan(0, count));
            for (int i = 0; i < count; i++)
            {
                if (!JsonNode.DeepEquals(node[i], defaultNode[i]))
                {
                    given.Add(new(binding.Keys[i], node[i]));
                }
            }
        }
        return Bind(SchedulerConfig.FromValues(given), null, NullLogger.Instance);
    }

    private static SchedulerConfig WithoutUsedDefaults(SchedulerConfig config, IReadOnlyCollection<string> explicitKeys)
    {
        if (!config.TryGetValue("_use_default_values", out JsonNode? node))
        {
            return config;
        }
        SchedulerConfig result = config.Without("_use_default_values");
        if (node is JsonArray keys)
        {
            foreach (JsonNode? item in keys)
            {
                if (item is JsonValue v && v.TryGetValue(out string? key) && !explicitKeys.Contains(key))
                {
                    result = result.Without(key);
                }
            }
        }
        return result;
    }
}
