using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// A scheduler configuration: the key/value pairs of diffusers' <c>scheduler_config.json</c>, in file order.
/// Immutable; <see cref="With(string, JsonNode?)"/> returns a modified copy (like <c>from_config(config, **kwargs)</c>).
/// </summary>
public sealed class SchedulerConfig : IReadOnlyDictionary<string, JsonNode?>
{
    /// <summary>The largest configuration file read (a real one is under 2 KB).</summary>
    internal const long MaxFileBytes = 1 << 20;

    private readonly List<KeyValuePair<string, JsonNode?>> _entries;
    private readonly Dictionary<string, int> _index;

    private SchedulerConfig(List<KeyValuePair<string, JsonNode?>> entries)
    {
        _entries = entries;
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < entries.Count; i++)
        {
            _index[entries[i].Key] = i;
        }
    }

    /// <summary>An empty configuration: every option takes the scheduler's default.</summary>
    public static SchedulerConfig Empty { get; } = new([]);

    /// <summary>The <c>_class_name</c> entry, or <see langword="null"/>.</summary>
    public string? ClassName => TryGetValue("_class_name", out JsonNode? node) && node is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    /// <inheritdoc />
    public int Count => _entries.Count;

    /// <inheritdoc />
    public IEnumerable<string> Keys => _entries.Select(e => e.Key);

    /// <inheritdoc />
    public IEnumerable<JsonNode?> Values => _entries.Select(e => e.Value?.DeepClone());

    /// <inheritdoc />
    public JsonNode? this[string key] => _entries[_index[key]].Value?.DeepClone();

    /// <summary>Parses a configuration from JSON text (an object).</summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="ArgumentException">The text is not a JSON object.</exception>
    public static SchedulerConfig Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(Configuration.PythonJson.QuoteNonFiniteLiterals(json), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false, MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"Invalid scheduler configuration JSON: {ex.Message}", nameof(json), ex);
        }
        if (node is not JsonObject obj)
        {
            throw new ArgumentException("A scheduler configuration must be a JSON object.", nameof(json));
        }
        var entries = new List<KeyValuePair<string, JsonNode?>>();
        foreach (KeyValuePair<string, JsonNode?> kv in obj)
        {
            entries.Add(new(kv.Key, kv.Value?.DeepClone()));
        }
        return new SchedulerConfig(entries);
    }

    /// <summary>Reads a <c>scheduler_config.json</c> file.</summary>
    /// <param name="path">The file path.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="ModelLoadException">The file is missing, too large or not a JSON object.</exception>
    public static SchedulerConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text = Configuration.ModelFiles.ReadJsonText(path, MaxFileBytes);
        try
        {
            return Parse(text);
        }
        catch (ArgumentException ex)
        {
            throw new ModelLoadException(path, ex.Message, ex);
        }
    }

    /// <summary>Builds a configuration from .NET values (numbers, strings, booleans, arrays, null).</summary>
    /// <param name="values">The entries.</param>
    /// <returns>The configuration.</returns>
    internal static SchedulerConfig FromValues(IEnumerable<KeyValuePair<string, object?>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return Empty.With(values);
    }

    /// <summary>Returns a copy with <paramref name="key"/> set to <paramref name="value"/> (added at the end if new).</summary>
    /// <param name="key">The option name.</param>
    /// <param name="value">The JSON value (<see langword="null"/> for JSON null).</param>
    /// <returns>The modified copy.</returns>
    public SchedulerConfig With(string key, JsonNode? value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        var entries = new List<KeyValuePair<string, JsonNode?>>(_entries.Count + 1);
        bool replaced = false;
        foreach (KeyValuePair<string, JsonNode?> e in _entries)
        {
            if (e.Key == key)
            {
                entries.Add(new(key, value?.DeepClone()));
                replaced = true;
            }
            else
            {
                entries.Add(new(e.Key, e.Value?.DeepClone()));
            }
        }
        if (!replaced)
        {
            entries.Add(new(key, value?.DeepClone()));
        }
        return new SchedulerConfig(entries);
    }

    /// <summary>Returns a copy with every entry of <paramref name="overrides"/> set (values are .NET primitives,
    /// arrays, <see cref="JsonNode"/>s or <see langword="null"/>).</summary>
    /// <param name="overrides">The entries to set.</param>
    /// <returns>The modified copy.</returns>
    public SchedulerConfig With(IEnumerable<KeyValuePair<string, object?>> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        SchedulerConfig result = this;
        foreach (KeyValuePair<string, object?> kv in overrides)
        {
            result = result.With(kv.Key, ToNode(kv.Value));
        }
        return result;
    }

    /// <summary>Returns a copy with an option given as command-line text (<c>key=value</c> style): the text is read
    /// as JSON when it parses (<c>true</c>, <c>0.5</c>, <c>null</c>, <c>[1,2]</c>, <c>"x"</c>), otherwise as a string.</summary>
    /// <param name="key">The option name.</param>
    /// <param name="text">The value text.</param>
    /// <returns>The modified copy.</returns>
    public SchedulerConfig WithText(string key, string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(text);
        JsonNode? node;
        string trimmed = text.Trim();
        try
        {
            node = JsonNode.Parse(trimmed.Length == 0 ? "\"\"" : trimmed);
        }
        catch (JsonException)
        {
            node = JsonValue.Create(text);
        }
        if (string.Equals(trimmed, "True", StringComparison.Ordinal) || string.Equals(trimmed, "False", StringComparison.Ordinal))
        {
            node = JsonValue.Create(trimmed == "True"); // Python spelling
        }
        else if (string.Equals(trimmed, "None", StringComparison.Ordinal))
        {
            node = null;
        }
        return With(key, node);
    }

    /// <summary>Returns a copy without <paramref name="key"/>.</summary>
    /// <param name="key">The option to remove.</param>
    /// <returns>The modified copy (this instance when the key is absent).</returns>
    public SchedulerConfig Without(string key)
    {
        if (!_index.ContainsKey(key))
        {
            return this;
        }
        return new SchedulerConfig(_entries.Where(e => e.Key != key).Select(e => new KeyValuePair<string, JsonNode?>(e.Key, e.Value?.DeepClone())).ToList());
    }

    /// <inheritdoc />
    public bool ContainsKey(string key) => _index.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, out JsonNode? value)
    {
        if (_index.TryGetValue(key, out int i))
        {
            value = _entries[i].Value;
            return true;
        }
        value = null;
        return false;
    }

    /// <summary>Serializes the configuration as indented JSON (what <c>save_config</c> writes).</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson()
    {
        var obj = new JsonObject();
        foreach (KeyValuePair<string, JsonNode?> e in _entries)
        {
            obj[e.Key] = e.Value?.DeepClone();
        }
        return obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <inheritdoc />
    public override string ToString() => ToJson();

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, JsonNode?>> GetEnumerator() =>
        _entries.Select(e => new KeyValuePair<string, JsonNode?>(e.Key, e.Value?.DeepClone())).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        JsonNode n => n.DeepClone(),
        JsonElement el => JsonNode.Parse(el.GetRawText()),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        float f => JsonValue.Create((double)f),
        double d => JsonValue.Create(d),
        decimal m => JsonValue.Create(m),
        IEnumerable<float> fs => new JsonArray(fs.Select(x => (JsonNode?)JsonValue.Create((double)x)).ToArray()),
        IEnumerable<double> ds => new JsonArray(ds.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
        IEnumerable<int> ints => new JsonArray(ints.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
        IEnumerable<long> longs => new JsonArray(longs.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
        IConvertible c => JsonValue.Create(Convert.ToDouble(c, CultureInfo.InvariantCulture)),
        _ => throw new ArgumentException($"Unsupported configuration value type {value.GetType().Name}.", nameof(value)),
    };
}
