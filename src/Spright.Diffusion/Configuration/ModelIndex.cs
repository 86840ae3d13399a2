using System.Text.Json;
using System.Text.Json.Nodes;

namespace Spright.Diffusion.Configuration;

/// <summary>One component entry of <c>model_index.json</c>: <c>"unet": ["diffusers", "UNet2DConditionModel"]</c>.</summary>
/// <param name="Name">The key (also the folder name).</param>
/// <param name="Library">The library (<c>diffusers</c>, <c>transformers</c>), or null for an absent component.</param>
/// <param name="ClassName">The class, or null for an absent component.</param>
internal readonly record struct ModelIndexComponent(string Name, string? Library, string? ClassName)
{
    /// <summary>Whether the entry names a real component (not <c>[null, null]</c>).</summary>
    public bool IsPresent => ClassName is not null;
}

/// <summary>
/// A parsed <c>model_index.json</c>: the pipeline class and its components, like diffusers'
/// <c>DiffusionPipeline.load_config</c>. Component names are validated to be plain folder names.
/// </summary>
internal sealed class ModelIndex
{
    /// <summary>The largest model_index.json read.</summary>
    public const long MaxFileBytes = 1 << 20;

    private readonly Dictionary<string, ModelIndexComponent> _components;

    private ModelIndex(string path, string className, Dictionary<string, ModelIndexComponent> components, string? diffusersVersion)
    {
        Path = path;
        ClassName = className;
        _components = components;
        DiffusersVersion = diffusersVersion;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The pipeline class (<c>_class_name</c>), e.g. <c>StableDiffusionPipeline</c>.</summary>
    public string ClassName { get; }

    /// <summary>The <c>_diffusers_version</c> entry, if any.</summary>
    public string? DiffusersVersion { get; }

    /// <summary>The component entries by name.</summary>
    public IReadOnlyDictionary<string, ModelIndexComponent> Components => _components;

    /// <summary>Reads <c>model_index.json</c> from a model folder.</summary>
    /// <param name="modelDirectory">The model folder.</param>
    /// <returns>The index.</returns>
    /// <exception cref="ModelLoadException">Missing folder or file, invalid JSON, or malformed entries.</exception>
    public static ModelIndex Load(string modelDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        if (!Directory.Exists(modelDirectory))
        {
            throw new ModelLoadException(modelDirectory, "model folder not found");
        }
        string path = System.IO.Path.Combine(modelDirectory, "model_index.json");
        JsonConfigFile file = JsonConfigFile.Load(path, MaxFileBytes);
        string className = file.GetString("_class_name") ?? throw new ModelLoadException(path, "key '_class_name' is missing");
        var components = new Dictionary<string, ModelIndexComponent>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, JsonNode?> kv in file.Root)
        {
            if (kv.Key.StartsWith('_') || kv.Value is not JsonArray arr)
            {
                continue; // private keys and flags such as requires_safety_checker
            }
            if (arr.Count != 2)
            {
                throw new ModelLoadException(path, $"component '{kv.Key}' must be a [library, class] pair; got {Shorten(arr.ToJsonString())}");
            }
            string? library = AsNullableString(arr[0], path, kv.Key);
            string? cls = AsNullableString(arr[1], path, kv.Key);
            if ((library is null) != (cls is null))
            {
                throw new ModelLoadException(path, $"component '{kv.Key}' must name both a library and a class, or neither");
            }
            if (cls is not null)
            {
                // Validates the name can only ever be a folder inside the model directory.
                ModelFiles.ResolveInside(modelDirectory, kv.Key, path);
            }
            components[kv.Key] = new ModelIndexComponent(kv.Key, library, cls);
        }
        return new ModelIndex(path, className, components, file.GetString("_diffusers_version"));
    }

    /// <summary>The component entry named <paramref name="name"/>, if present (non-null class).</summary>
    /// <param name="name">The component key.</param>
    /// <param name="component">The entry.</param>
    /// <returns>Whether a present entry exists.</returns>
    public bool TryGetComponent(string name, out ModelIndexComponent component) =>
        _components.TryGetValue(name, out component) && component.IsPresent;

    private static string? AsNullableString(JsonNode? node, string path, string key)
    {
        if (node is null)
        {
            return null;
        }
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            return v.GetValue<string>();
        }
        throw new ModelLoadException(path, $"component '{key}' holds {Shorten(node.ToJsonString())}; expected strings or null");
    }

    private static string Shorten(string s) => s.Length > 80 ? s[..80] + "…" : s;
}
