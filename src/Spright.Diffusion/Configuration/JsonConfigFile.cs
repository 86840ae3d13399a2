using System.Text.Json;
using System.Text.Json.Nodes;

namespace Spright.Diffusion.Configuration;

/// <summary>
/// A component's <c>config.json</c> (diffusers/transformers style) read defensively: bounded size, Python's
/// non-finite literals accepted, and every typed read failing with a <see cref="ModelLoadException"/> that names
/// the file and the key.
/// </summary>
internal sealed class JsonConfigFile
{
    private readonly JsonObject _root;

    private JsonConfigFile(string path, JsonObject root)
    {
        Path = path;
        _root = root;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The raw JSON object.</summary>
    public JsonObject Root => _root;

    /// <summary>Reads and parses a JSON object file.</summary>
    public static JsonConfigFile Load(string path, long maxBytes = ModelFiles.DefaultMaxJsonBytes)
    {
        string text = ModelFiles.ReadJsonText(path, maxBytes);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(PythonJson.QuoteNonFiniteLiterals(text), documentOptions: new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, $"invalid JSON ({ex.Message})", ex);
        }
        if (node is not JsonObject obj)
        {
            throw new ModelLoadException(path, "expected a JSON object at the top level");
        }
        return new JsonConfigFile(path, obj);
    }

    /// <summary>Loads the file when it exists, else returns <see langword="null"/>.</summary>
    public static JsonConfigFile? LoadOptional(string path) => File.Exists(path) ? Load(path) : null;

    /// <summary>Whether the key is present (even if null).</summary>
    public bool Contains(string key) => _root.ContainsKey(key);

    /// <summary>A string value, or <see langword="null"/> when absent or null.</summary>
    public string? GetString(string key)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return null;
        }
        if (n is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            return v.GetValue<string>();
        }
        throw WrongType(key, n, "a string");
    }

    /// <summary>An integer value, or <see langword="null"/> when absent or null.</summary>
    public int? GetInt(string key, int min = int.MinValue, int max = int.MaxValue)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return null;
        }
        double d = Number(key, n);
        if (d != Math.Floor(d) || d < min || d > max)
        {
            throw new ModelLoadException(Path, $"key '{key}' is {n.ToJsonString()}; expected an integer in [{min}, {max}]");
        }
        return (int)d;
    }

    /// <summary>A number, or <see langword="null"/> when absent or null.</summary>
    public double? GetDouble(string key, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return null;
        }
        double d = Number(key, n);
        if (double.IsNaN(d) || d < min || d > max)
        {
            throw new ModelLoadException(Path, $"key '{key}' is {n.ToJsonString()}; expected a number in [{min}, {max}]");
        }
        return d;
    }

    /// <summary>A boolean, or <see langword="null"/> when absent or null.</summary>
    public bool? GetBool(string key)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return null;
        }
        if (n is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            return v.GetValue<bool>();
        }
        throw WrongType(key, n, "true or false");
    }

    /// <summary>An integer array, or <see langword="null"/> when absent or null.</summary>
    public int[]? GetIntArray(string key, int min = int.MinValue, int max = int.MaxValue)
    {
        JsonNode? n = Get(key);
        if (n is null)
        {
            return null;
        }
        if (n is not JsonArray arr)
        {
            throw WrongType(key, n, "an array of integers");
        }
        var result = new int[arr.Count];
        for (int i = 0; i < arr.Count; i++)
        {
            JsonNode? item = arr[i];
            if (item is not JsonValue itemValue || itemValue.GetValueKind() != JsonValueKind.Number)
            {
                throw WrongType(key, n, "an array of integers");
            }
            double d = Number(key, item);
            if (d != Math.Floor(d) || d < min || d > max)
            {
                throw new ModelLoadException(Path, $"key '{key}' holds {item.ToJsonString()}; expected integers in [{min}, {max}]");
            }
            result[i] = (int)d;
        }
        return result;
    }

    private JsonNode? Get(string key) => _root.TryGetPropertyValue(key, out JsonNode? n) ? n : null;

    private double Number(string key, JsonNode n)
    {
        if (n is JsonValue v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.Number:
                    return JsonNumbers.TryGetDouble(v, out double d) ? d : throw WrongType(key, n, "a number");
                case JsonValueKind.String when v.GetValue<string>() is "Infinity" or "-Infinity" or "NaN":
                    return v.GetValue<string>() switch { "Infinity" => double.PositiveInfinity, "-Infinity" => double.NegativeInfinity, _ => double.NaN };
            }
        }
        throw WrongType(key, n, "a number");
    }

    private ModelLoadException WrongType(string key, JsonNode n, string expected)
    {
        string shown = n.ToJsonString();
        if (shown.Length > 80)
        {
            shown = shown[..80] + "…";
        }
        return new ModelLoadException(Path, $"key '{key}' is {shown}; expected {expected}");
    }
}
