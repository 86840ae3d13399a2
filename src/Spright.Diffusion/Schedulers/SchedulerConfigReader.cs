using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Reads a scheduler's options from a <see cref="SchedulerConfig"/> the way diffusers'
/// <c>ConfigMixin.extract_init_dict</c> does: every option has a default, keys of the original class that this
/// class does not know are dropped silently, other unknown keys are ignored with a warning, and the resolved
/// configuration keeps unused keys "hidden" so switching back restores them.
/// Options are read in declaration order (which becomes the order of the resolved configuration).
/// </summary>
internal sealed class SchedulerConfigReader
{
    private const string DefaultDiffusersVersion = "0.31.0";

    /// <summary>The event of the "config attributes … are not expected" warning (clones suppress it: it was shown once).</summary>
    internal static readonly EventId UnexpectedKeysEvent = new(1001, "UnexpectedConfigKeys");

    private readonly string _className;
    private readonly SchedulerConfig _config;
    private readonly IReadOnlyCollection<string> _explicitKeys;
    private readonly List<KeyValuePair<string, JsonNode?>> _resolved = [];
    private readonly List<string> _defaulted = [];
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    /// <summary>Creates a reader.</summary>
    /// <param name="className">The diffusers class name being built.</param>
    /// <param name="config">The configuration to read.</param>
    /// <param name="explicitKeys">Keys the caller set explicitly (overrides); an unknown one is an error, not a warning.</param>
    public SchedulerConfigReader(string className, SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys = null)
    {
        _className = className;
        _explicitKeys = explicitKeys ?? [];
        _config = WithoutUsedDefaults(config ?? throw new ArgumentNullException(nameof(config)), _explicitKeys);
    }

    /// <summary>diffusers drops the keys listed in <c>_use_default_values</c> (values that were defaults of the class
    /// that wrote the configuration) so that the class being built applies its own defaults; explicit overrides stay.</summary>
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

    /// <summary>The keys read so far (the class's init keys once construction has finished).</summary>
    public IReadOnlyCollection<string> ReadKeys => _read;

    public int Int(string key, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        JsonNode? node = Take(key, JsonValue.Create(defaultValue), out bool present);
        if (!present)
        {
            return defaultValue;
        }
        double d = AsDouble(key, node, allowNull: false)!.Value;
        if (d != Math.Floor(d) || d < min || d > max)
        {
            throw Invalid(key, node, $"an integer in [{min}, {max}]");
        }
        Replace(key, JsonValue.Create((int)d));
        return (int)d;
    }

    public int? NullableInt(string key, int? defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        JsonNode? node = Take(key, defaultValue is null ? null : JsonValue.Create(defaultValue.Value), out bool present);
        if (!present)
        {
            return defaultValue;
        }
        if (node is null)
        {
            return null;
        }
        double d = AsDouble(key, node, allowNull: false)!.Value;
        if (d != Math.Floor(d) || d < min || d > max)
        {
            throw Invalid(key, node, $"an integer in [{min}, {max}] or null");
        }
        return (int)d;
    }

    public double Double(string key, double defaultValue, double min = double.NegativeInfinity, double max = double.PositiveInfinity, bool allowNaN = false)
    {
        JsonNode? node = Take(key, NumberNode(defaultValue), out bool present);
        if (!present)
        {
            return defaultValue;
        }
        double d = AsDouble(key, node, allowNull: false)!.Value;
        if ((double.IsNaN(d) && !allowNaN) || d < min || d > max)
        {
            throw Invalid(key, node, $"a number in [{Format(min)}, {Format(max)}]");
        }
        return d;
    }

    public double? NullableDouble(string key, double? defaultValue, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        JsonNode? node = Take(key, defaultValue is null ? null : NumberNode(defaultValue.Value), out bool present);
        if (!present)
        {
            return defaultValue;
        }
        double? d = AsDouble(key, node, allowNull: true);
        if (d is double v && (double.IsNaN(v) || v < min || v > max))
        {
            throw Invalid(key, node, $"a number in [{Format(min)}, {Format(max)}] or null");
        }
        return d;
    }

    public bool Bool(string key, bool defaultValue)
    {
        JsonNode? node = Take(key, JsonValue.Create(defaultValue), out bool present);
        if (!present)
        {
            return defaultValue;
        }
        if (node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            return v.GetValue<bool>();
        }
        throw Invalid(key, node, "true or false");
    }

    public string String(string key, string defaultValue, params string[] allowed)
    {
        string? s = NullableString(key, defaultValue, allowed) ?? throw Invalid(key, null, allowed.Length > 0 ? $"one of {string.Join(", ", allowed.Select(a => '"' + a + '"'))}" : "a string");
        return s;
    }

    public string? NullableString(string key, string? defaultValue, params string[] allowed)
    {
        JsonNode? node = Take(key, defaultValue is null ? null : JsonValue.Create(defaultValue), out bool present);
        if (!present)
        {
            return defaultValue;
        }
        if (node is null)
        {
            return null;
        }
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            string s = v.GetValue<string>();
            if (allowed.Length == 0 || allowed.Contains(s, StringComparer.Ordinal))
            {
                return s;
            }
        }
        throw Invalid(key, node, allowed.Length > 0 ? $"one of {string.Join(", ", allowed.Select(a => '"' + a + '"'))}" : "a string");
    }

    public double[]? NullableDoubleArray(string key)
    {
        JsonNode? node = Take(key, null, out bool present);
        if (!present || node is null)
        {
            return null;
        }
        if (node is JsonArray arr)
        {
            var result = new double[arr.Count];
            for (int i = 0; i < arr.Count; i++)
            {
                result[i] = AsDouble(key, arr[i], allowNull: false) ?? throw Invalid(key, node, "an array of numbers or null");
            }
            return result;
        }
        throw Invalid(key, node, "an array of numbers or null");
    }

    /// <summary>Reads an option that is a number or a list of numbers (returned as a list).</summary>
    public double[]? NumberOrList(string key, double[]? defaultValue)
    {
        JsonNode? def = defaultValue is null ? null : new JsonArray(defaultValue.Select(d => (JsonNode?)NumberNode(d)).ToArray());
        JsonNode? node = Take(key, def, out bool present);
        if (!present)
        {
            return defaultValue;
        }
        if (node is null)
        {
            return null;
        }
        if (node is JsonArray arr)
        {
            return arr.Select(n => AsDouble(key, n, allowNull: false) ?? 0).ToArray();
        }
        return [AsDouble(key, node, allowNull: false)!.Value];
    }

    /// <summary>Finishes reading: validates explicit overrides, warns about unknown keys and returns the resolved configuration.</summary>
    public SchedulerConfig Complete(ILogger? logger)
    {
        foreach (string key in _explicitKeys)
        {
            if (!_read.Contains(key))
            {
                throw new ArgumentException(
                    $"{_className} has no option '{key}'. Known options: {string.Join(", ", _read.Order(StringComparer.Ordinal))}.", key);
            }
        }

        string? originalClass = _config.ClassName;
        IReadOnlyCollection<string> originalKeys = originalClass is not null && originalClass != _className
            ? SchedulerRegistry.InitKeysOf(originalClass)
            : [];

        var unexpected = new List<string>();
        var hidden = new List<KeyValuePair<string, JsonNode?>>();
        foreach (KeyValuePair<string, JsonNode?> kv in _config)
        {
            if (_read.Contains(kv.Key) || kv.Key is "_class_name" or "_diffusers_version" or "_use_default_values")
            {
                continue;
            }
            hidden.Add(kv);
            if (!kv.Key.StartsWith('_') && !originalKeys.Contains(kv.Key))
            {
                unexpected.Add(kv.Key);
            }
        }
        if (unexpected.Count > 0)
        {
            logger?.LogWarning(UnexpectedKeysEvent,
                "The config attributes {Attributes} were passed to {ClassName}, but are not expected and will be ignored.",
                string.Join(", ", unexpected), _className);
        }

        var entries = new List<KeyValuePair<string, object?>>();
        foreach (KeyValuePair<string, JsonNode?> kv in _resolved)
        {
            entries.Add(new(kv.Key, kv.Value));
        }
        if (_defaulted.Count > 0)
        {
            entries.Add(new("_use_default_values", new JsonArray(_defaulted.Order(StringComparer.Ordinal).Select(k => (JsonNode?)JsonValue.Create(k)).ToArray())));
        }
        entries.Add(new("_class_name", _className));
        string version = _config.TryGetValue("_diffusers_version", out JsonNode? ver) && ver is JsonValue vv && vv.GetValueKind() == JsonValueKind.String
            ? vv.GetValue<string>()
            : DefaultDiffusersVersion;
        entries.Add(new("_diffusers_version", version));
        foreach (KeyValuePair<string, JsonNode?> kv in hidden)
        {
            entries.Add(new(kv.Key, kv.Value));
        }
        return SchedulerConfig.FromValues(entries);
    }

    private JsonNode? Take(string key, JsonNode? defaultNode, out bool present)
    {
        if (!_read.Add(key))
        {
            throw new InvalidOperationException($"{_className} reads option '{key}' twice.");
        }
        present = _config.TryGetValue(key, out JsonNode? node);
        if (!present)
        {
            _defaulted.Add(key);
            _resolved.Add(new(key, defaultNode));
            return defaultNode;
        }
        _resolved.Add(new(key, node?.DeepClone()));
        return node;
    }

    private void Replace(string key, JsonNode? node)
    {
        int i = _resolved.FindIndex(kv => kv.Key == key);
        _resolved[i] = new(key, node);
    }

    private double? AsDouble(string key, JsonNode? node, bool allowNull)
    {
        if (node is null)
        {
            return allowNull ? null : throw Invalid(key, node, "a number");
        }
        if (node is JsonValue v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.Number:
                    if (Configuration.JsonNumbers.TryGetDouble(v, out double d))
                    {
                        return d;
                    }
                    break;
                case JsonValueKind.String:
                    string s = v.GetValue<string>();
                    if (s is "Infinity" or "inf")
                    {
                        return double.PositiveInfinity;
                    }

                    if (s is "-Infinity" or "-inf")
                    {
                        return double.NegativeInfinity;
                    }

                    if (s is "NaN" or "nan")
                    {
                        return double.NaN;
                    }

                    break;
            }
        }
        throw Invalid(key, node, "a number");
    }

    private ArgumentException Invalid(string key, JsonNode? node, string expected) =>
        new($"{_className} option '{key}' is {(node is null ? "null" : node.ToJsonString())}; expected {expected}.", key);

    private static JsonValue NumberNode(double d) =>
        double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");

    private static string Format(double d) => double.IsInfinity(d) ? (d > 0 ? "∞" : "-∞") : d.ToString(CultureInfo.InvariantCulture);
}
