using System.Text.Json;
using Spright.Diffusion.OnnxRuntime.Safetensors;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>One safetensors file of a component: the path in the component folder, the real file behind it (a Hugging
/// Face cache snapshot holds relative symlinks into <c>blobs/</c>) and its validated header.</summary>
/// <param name="Path">The file in the component folder.</param>
/// <param name="ResolvedPath">The real file (symlinks followed).</param>
/// <param name="Header">The validated header.</param>
internal sealed record WeightFile(string Path, string ResolvedPath, SafetensorsFile Header)
{
    /// <summary>The file name (what a graph's external data <c>location</c> names).</summary>
    public string FileName => System.IO.Path.GetFileName(Path);
}

/// <summary>A tensor and the file it lives in.</summary>
/// <param name="File">The file.</param>
/// <param name="Tensor">The tensor's header entry.</param>
internal sealed record WeightRef(WeightFile File, SafetensorsTensor Tensor)
{
    /// <summary>The tensor's name.</summary>
    public string Name => Tensor.Name;
}

/// <summary>
/// The weights of one diffusers / transformers component folder: <c>{prefix}[.{variant}].safetensors</c>, or the shards
/// named by <c>{prefix}.safetensors.index[.{variant}].json</c>. Every file's header is validated on open.
/// </summary>
internal sealed class WeightFiles
{
    private readonly Dictionary<string, WeightRef> _tensors;

    private WeightFiles(string folder, IReadOnlyList<WeightFile> files, Dictionary<string, WeightRef> tensors, string description)
    {
        Folder = folder;
        Files = files;
        _tensors = tensors;
        Description = description;
    }

    /// <summary>The component folder.</summary>
    public string Folder { get; }

    /// <summary>The files (one, or the shards).</summary>
    public IReadOnlyList<WeightFile> Files { get; }

    /// <summary>The file (or index) name the weights came from, for messages.</summary>
    public string Description { get; }

    /// <summary>Every tensor name.</summary>
    public IEnumerable<string> Names => _tensors.Keys;

    /// <summary>The tensor called <paramref name="name"/>, or <see langword="null"/>.</summary>
    public WeightRef? Find(string name) => _tensors.GetValueOrDefault(name);

    /// <summary>The weight file name diffusers / transformers use for <paramref name="prefix"/> and <paramref name="variant"/>.</summary>
    public static string FileName(string prefix, string? variant) => variant is null ? $"{prefix}.safetensors" : $"{prefix}.{variant}.safetensors";

    /// <summary>The sharded index file name for <paramref name="prefix"/> and <paramref name="variant"/>.</summary>
    public static string IndexName(string prefix, string? variant) =>
        variant is null ? $"{prefix}.safetensors.index.json" : $"{prefix}.safetensors.index.{variant}.json";

    /// <summary>Whether the folder holds weights for <paramref name="prefix"/> (single file or index; any variant when
    /// <paramref name="variant"/> is null and the plain file is absent is not counted).</summary>
    public static bool Exists(string folder, string prefix, string? variant) =>
        File.Exists(Path.Combine(folder, FileName(prefix, variant))) || File.Exists(Path.Combine(folder, IndexName(prefix, variant)));

    /// <summary>Opens and validates the weights of <paramref name="folder"/>.</summary>
    /// <exception cref="ModelLoadException">No weight file, an invalid index, or an invalid safetensors header.</exception>
    public static WeightFiles Open(string folder, string prefix, string? variant)
    {
        string single = Path.Combine(folder, FileName(prefix, variant));
        if (File.Exists(single))
        {
            WeightFile file = OpenFile(single);
            var tensors = new Dictionary<string, WeightRef>(StringComparer.Ordinal);
            foreach (SafetensorsTensor t in file.Header.Tensors)
            {
                tensors[t.Name] = new WeightRef(file, t);
            }
            return new WeightFiles(folder, [file], tensors, Path.GetFileName(single));
        }
        string index = Path.Combine(folder, IndexName(prefix, variant));
        if (File.Exists(index))
        {
            return OpenSharded(folder, index);
        }
        string variantNote = variant is null ? "" : $" (variant '{variant}')";
        throw new ModelLoadException(folder, $"no weights{variantNote}: neither {FileName(prefix, variant)} nor {IndexName(prefix, variant)} is in the folder");
    }

    private static WeightFiles OpenSharded(string folder, string index)
    {
        ConfigJson json = ConfigJson.Load(index);
        if (json.Get("weight_map") is not System.Text.Json.Nodes.JsonObject map)
        {
            throw new ModelLoadException(index, "sharded weight index has no 'weight_map' object");
        }
        var files = new Dictionary<string, WeightFile>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, WeightRef>(StringComparer.Ordinal);
        foreach ((string tensorName, System.Text.Json.Nodes.JsonNode? value) in map)
        {
            if (value is not System.Text.Json.Nodes.JsonValue v || v.GetValueKind() != JsonValueKind.String)
            {
                throw new ModelLoadException(index, $"weight_map entry '{tensorName}' is not a file name");
            }
            string shard = v.GetValue<string>();
            if (shard.Length == 0 || shard.IndexOfAny(['/', '\\', '\0', ':']) >= 0 || shard is "." or ".." || !shard.EndsWith(".safetensors", StringComparison.Ordinal))
            {
                throw new ModelLoadException(index, $"weight_map entry '{tensorName}' names '{shard}', which is not a .safetensors file in the folder");
            }
            if (!files.TryGetValue(shard, out WeightFile? file))
            {
                file = OpenFile(Path.Combine(folder, shard));
                files[shard] = file;
            }
            if (file.Header.Find(tensorName) is not { } tensor)
            {
                throw new ModelLoadException(file.Path, $"tensor '{tensorName}' is listed in {Path.GetFileName(index)} but missing from this shard");
            }
            tensors[tensorName] = new WeightRef(file, tensor);
        }
        if (files.Count == 0)
        {
            throw new ModelLoadException(index, "sharded weight index lists no tensors");
        }
        return new WeightFiles(folder, files.Values.OrderBy(f => f.Path, StringComparer.Ordinal).ToArray(), tensors, Path.GetFileName(index));
    }

    private static WeightFile OpenFile(string path)
    {
        string resolved = ResolveFinal(path);
        SafetensorsFile header = SafetensorsFile.Read(resolved);
        return new WeightFile(path, resolved, header);
    }

    /// <summary>The real file behind <paramref name="path"/> (every symlink, of the file or its folders, followed).</summary>
    internal static string ResolveFinal(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            for (int hops = 0; hops < 40; hops++)
            {
                var info = new FileInfo(full);
                if (info.LinkTarget is null)
                {
                    break;
                }
                string target = info.LinkTarget;
                full = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(Path.GetDirectoryName(full)!, target));
            }
            // Folders on the way may be links too (a snapshot folder linked elsewhere).
            string? directory = Path.GetDirectoryName(full);
            if (directory is not null)
            {
                var dirInfo = new DirectoryInfo(directory);
                string real = dirInfo.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? RealDirectory(dirInfo);
                full = Path.Combine(real, Path.GetFileName(full));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(path, $"cannot resolve the file: {ex.Message}", ex);
        }
        if (!File.Exists(full))
        {
            throw new ModelLoadException(path, $"the file (resolved to {full}) does not exist");
        }
        return full;
    }

    private static string RealDirectory(DirectoryInfo directory)
    {
        if (directory.Parent is null)
        {
            return directory.FullName;
        }
        string parent = directory.Parent.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? RealDirectory(directory.Parent);
        string candidate = Path.Combine(parent, directory.Name);
        var info = new DirectoryInfo(candidate);
        return info.LinkTarget is null ? candidate : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? candidate;
    }
}
