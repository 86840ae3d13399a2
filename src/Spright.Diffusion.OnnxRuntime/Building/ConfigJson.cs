using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// A component's <c>config.json</c> as the graph builders read it: bounded size, every typed read failing with a
/// one-line <see cref="ModelLoadException"/> that names the file and the key, and <see cref="Unsupported"/> for values
/// the builders do not implement (file, key and value named).
/// </summary>
internal sealed class ConfigJson
{
    /// <summary>The largest config.json accepted.</summary>
    public const long MaxBytes = 4L << 20;

    private readonly JsonObject _root;

    private ConfigJson(string path, JsonObject root)
    {
        Path = path;
        _root = root;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The raw object.</summary>
    public JsonObject Root => _root;

    /// <summary>Reads <paramref name="path"/>.</summary>
    public static ConfigJson Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new ModelLoadException(path, "config.json not found");
        }
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var buffer = new MemoryStream();
            var chunk = new byte[65536];
            int read;
            while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > MaxBytes)
                {
                    throw new ModelLoadException(path, $"file is more than the {MaxBytes} bytes allowed for a config.json");
                }
            }
            bytes = buffer.ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(path, $"cannot be read: {ex.Message}", ex);
        }
        return Parse(path, bytes);
    }

    /// <summary>Parses config text (tests and the exporter).</summary>
    public static ConfigJson Parse(string path, byte[] bytes)
    {
        ReadOnlySpan<byte> span = bytes;
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            span = span[3..];
        }
        // Python's json writes NaN / Infinity bare; quote them so System.Text.Json can read the rest of the file.
        string text = QuoteNonFinite(Encoding.UTF8.GetString(span));
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 32, AllowTrailingCommas = false });
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, $"invalid JSON ({ex.Message})", ex);
        }
        if (node is not JsonObject obj)
        {
            throw new ModelLoadException(path, "expected a JSON object at the top level");
        }
        return new ConfigJson(path, obj);
    }

    /// <summary>Whether the key is present with a non-null value.</summary>
    public bool Has(string key) => _root.TryGetPropertyValue(key, out JsonNode? n) && n is not null;

    /// <summary>The value's JSON text (for messages), or <c>null</c>.</summary>
    public string Raw(string key)
    {
        JsonNode? n = Get(key);
        return n is null ? "null" : Show(n);
    }

    /// <summary>A string, or <paramref name="fallback"/> when absent or null.</summary>
    public string? String(string key, string? fallback = null)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return fallback;
        }
        if (n is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            return v.GetValue<string>();
        }
        throw WrongType(key, n, "a string");
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="fallback"/> when absent
    /// or null (a missing key without fallback is an error).</summary>
    public int Int(string key, int? fallback, int min = int.MinValue, int max = int.MaxValue) =>
        IntOrNull(key, min, max) ?? fallback ?? throw new ModelLoadException(Path, $"key '{key}' is missing");

    /// <summary>An integer, or <see langword="null"/> when absent or null.</summary>
    public int? IntOrNull(string key, int min = int.MinValue, int max = int.MaxValue)
    {
        JsonNode? n = Get(key);
        return n is null ? null : ToInt(key, n, min, max);
    }

    /// <summary>A number, or <paramref name="fallback"/> when absent or null.</summary>
    public double Double(string key, double fallback, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return fallback;
        }
        double d = Number(key, n);
        if (double.IsNaN(d) || d < min || d > max)
        {
            throw new ModelLoadException(Path, $"key '{key}' is {Show(n)}; expected a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]");
        }
        return d;
    }

    /// <summary>A boolean, or <paramref name="fallback"/> when absent or null.</summary>
    public bool Bool(string key, bool fallback)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return fallback;
        }
        if (n is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            return v.GetValue<bool>();
        }
        throw WrongType(key, n, "true or false");
    }

    /// <summary>An integer or a list of <paramref name="count"/> integers (one per level), or <paramref name="fallback"/>
    /// when absent or null; <see langword="null"/> when absent and there is no fallback.</summary>
    public int[]? IntPerLevel(string key, int count, int? fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return fallback is int f ? Enumerable.Repeat(f, count).ToArray() : null;
        }
        if (n is JsonArray array)
        {
            if (array.Count != count)
            {
                throw new ModelLoadException(Path, $"key '{key}' is {Show(n)}: {array.Count} entries, expected {count} (one per level)");
            }
            return array.Select(item => item is null ? throw WrongType(key, n, "integers") : ToInt(key, item, min, max)).ToArray();
        }
        return Enumerable.Repeat(ToInt(key, n, min, max), count).ToArray();
    }

    /// <summary>A list of integers, or <see langword="null"/> when absent or null.</summary>
    public int[]? IntArray(string key, int min = int.MinValue, int max = int.MaxValue)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return null;
        }
        if (n is not JsonArray array)
        {
            throw WrongType(key, n, "a list of integers");
        }
        return array.Select(item => item is null ? throw WrongType(key, n, "a list of integers") : ToInt(key, item, min, max)).ToArray();
    }

    /// <summary>A list of strings, or <see langword="null"/> when absent or null.</summary>
    public string[]? StringArray(string key)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return null;
        }
        if (n is not JsonArray array)
        {
            throw WrongType(key, n, "a list of strings");
        }
        return array.Select(item => item is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw WrongType(key, n, "a list of strings")).ToArray();
    }

    /// <summary>The raw node, or <see langword="null"/>.</summary>
    public JsonNode? Get(string key) => _root.TryGetPropertyValue(key, out JsonNode? n) ? n : null;

    /// <summary>An error for a value the builder does not implement: names the file, the key and the value.</summary>
    public ModelLoadException Unsupported(string key, string why) =>
        new(Path, $"key '{key}' is {Raw(key)}, which the ONNX graph builder does not implement ({why})");

    /// <summary>An error for an invalid value.</summary>
    public ModelLoadException Invalid(string key, string why) => new(Path, $"key '{key}' is {Raw(key)}: {why}");

    /// <summary>An integer from a JSON node (for nested lists).</summary>
    public int ToInt(string key, JsonNode n, int min = int.MinValue, int max = int.MaxValue)
    {
        double d = Number(key, n);
        if (d != Math.Floor(d) || d < min || d > max)
        {
            throw new ModelLoadException(Path, $"key '{key}' holds {Show(n)}; expected an integer in [{min}, {max}]");
        }
        return (int)d;
    }

    /// <summary>An error naming the key, the value and what was expected.</summary>
    public ModelLoadException WrongType(string key, JsonNode n, string expected) => new(Path, $"key '{key}' is {Show(n)}; expected {expected}");

    private double Number(string key, JsonNode n)
    {
        if (n is JsonValue v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.Number:
                    // Parsed values convert to double; values created in code keep their CLR type.
                    if (v.TryGetValue(out double d))
                    {
                        return d;
                    }
                    if (v.TryGetValue(out long l))
                    {
                        return l;
                    }
                    return v.TryGetValue(out int i) ? i : double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture);
                case JsonValueKind.String when v.GetValue<string>() is "Infinity" or "-Infinity" or "NaN":
                    return v.GetValue<string>() switch { "Infinity" => double.PositiveInfinity, "-Infinity" => double.NegativeInfinity, _ => double.NaN };
            }
        }
        throw WrongType(key, n, "a number");
    }

    private static string Show(JsonNode n)
    {
        string shown = n.ToJsonString();
        return shown.Length > 80 ? shown[..80] + "…" : shown;
    }

    private static string QuoteNonFinite(string text)
    {
        if (!text.Contains("NaN", StringComparison.Ordinal) && !text.Contains("Infinity", StringComparison.Ordinal))
        {
            return text;
        }
        var sb = new StringBuilder(text.Length + 16);
        bool inString = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (inString)
            {
                sb.Append(c);
                if (c == '\\' && i + 1 < text.Length)
                {
                    sb.Append(text[++i]);
                }
                else if (c == '"')
                {
                    inString = false;
                }
                continue;
            }
            if (c == '"')
            {
                inString = true;
                sb.Append(c);
                continue;
            }
            string? literal = Match(text, i, "-Infinity") ?? Match(text, i, "Infinity") ?? Match(text, i, "NaN");
            if (literal is not null)
            {
                sb.Append('"').Append(literal).Append('"');
                i += literal.Length - 1;
                continue;
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    private static string? Match(string text, int i, string literal) =>
        string.CompareOrdinal(text, i, literal, 0, literal.Length) == 0 ? literal : null;
}
