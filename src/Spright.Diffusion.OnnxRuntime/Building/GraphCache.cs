using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// The cache of built graphs. An entry is a folder <c>{kind}-{source}-{key}</c> under the cache root holding
/// <c>model.onnx</c>, the component's <c>config.json</c>, the weight files as hard links (a copy only across volumes:
/// ONNX Runtime reads external data only from real files beside the graph) and <c>manifest.json</c>. The key hashes the
/// builder version, the build options, the config's content and each weight file's identity (resolved path, length,
/// modification time, header hash). An entry is built in a temporary sibling folder and renamed into place, so an
/// interrupted build leaves no entry; on use the manifest, the graph's hash and the weight files are checked, and a
/// stale, foreign or corrupt entry is rebuilt.
/// </summary>
internal static class GraphCache
{
    /// <summary>Bumped whenever the builders' output changes in a way the assembly identity would not show.</summary>
    public const string BuilderVersion = "spright-graph-builder/1";

    private const int ManifestFormat = 1;
    private const string ManifestName = "manifest.json";
    private const string ModelName = "model.onnx";
    private const string TempPrefix = ".tmp-";
    private static readonly TimeSpan StaleTempAge = TimeSpan.FromHours(6);

    /// <summary>The builder identity in cache keys: <see cref="BuilderVersion"/> and the building assembly's build.</summary>
    public static string BuilderIdentity { get; } =
        BuilderVersion + "+" + typeof(GraphCache).Assembly.ManifestModule.ModuleVersionId.ToString("N") + "+" +
        (typeof(GraphCache).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0");

    /// <summary>Returns the path of a valid cached <c>model.onnx</c> for the component, building the entry when needed.</summary>
    public static string GetOrBuild(DiffusersComponentKind kind, string componentFolder, GraphBuildOptions options, CancellationToken cancellationToken)
    {
        string folder = Path.GetFullPath(componentFolder);
        string root = options.ResolveCacheDirectory();
        try
        {
            Directory.CreateDirectory(root);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(root, $"the graph cache folder cannot be created: {ex.Message}", ex);
        }

        // The identity of what would be built: config content and each weight file's identity.
        string configPath = Path.Combine(folder, "config.json");
        byte[] configBytes = ReadConfigBytes(configPath);
        WeightFiles weights = WeightFiles.Open(folder, ComponentGraphBuilder.WeightPrefix(kind), options.Variant);
        JsonObject expected = Describe(kind, folder, options, configBytes, weights);
        string key = Hash(expected.ToJsonString())[..32];
        expected["key"] = key;
        // Entries of the same source and options but another key are stale (the weights or the builder changed).
        bool attentionMask = kind == DiffusersComponentKind.TextEncoder && options.TextEncoderAttentionMask;
        string sourceKey = Hash($"{kind}|{folder}|{options.Dtype}|{options.Target}|{(int)options.EffectiveOptimizations}|{options.Variant}|{(attentionMask ? "mask" : "")}")[..16];
        string entryName = $"{KindName(kind)}-{sourceKey}-{key}";
        string entry = Path.Combine(root, entryName);

        if (Directory.Exists(entry))
        {
            if (IsValid(entry, expected))
            {
                return Path.Combine(entry, ModelName);
            }
            Remove(entry);
        }

        string temp = Path.Combine(root, $"{TempPrefix}{entryName}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(temp);
            WriteEntry(temp, kind, folder, options, configBytes, weights, expected, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                Directory.Move(temp, entry);
            }
            catch (IOException) when (Directory.Exists(entry))
            {
                // Another builder finished first: use its entry if it is sound, else replace it with ours.
                if (!IsValid(entry, expected))
                {
                    Remove(entry);
                    Directory.Move(temp, entry);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(entry, $"the graph cache entry cannot be written: {ex.Message}", ex);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                TryDeleteDirectory(temp);
            }
        }
        CleanUp(root, $"{KindName(kind)}-{sourceKey}-", entryName);
        return Path.Combine(entry, ModelName);
    }

    /// <summary>The entry folder name's kind part.</summary>
    public static string KindName(DiffusersComponentKind kind) => kind switch
    {
        DiffusersComponentKind.TextEncoder => "text_encoder",
        DiffusersComponentKind.UNet => "unet",
        DiffusersComponentKind.VaeEncoder => "vae_encoder",
        DiffusersComponentKind.VaeDecoder => "vae_decoder",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static void WriteEntry(string temp, DiffusersComponentKind kind, string folder, GraphBuildOptions options, byte[] configBytes,
        WeightFiles weights, JsonObject expected, CancellationToken cancellationToken)
    {
        foreach (WeightFile file in weights.Files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            FileLinks.LinkOrCopy(file.ResolvedPath, Path.Combine(temp, file.FileName), cancellationToken);
        }
        File.WriteAllBytes(Path.Combine(temp, "config.json"), configBytes);
        cancellationToken.ThrowIfCancellationRequested();

        BuiltGraph built = ComponentGraphBuilder.Build(kind, folder, options, new InPlaceWeightStore());
        ProtoBuffer model = built.Graph.ToModel("spright-diffusion", BuilderVersion);
        string modelPath = Path.Combine(temp, ModelName);
        using (var stream = new FileStream(modelPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            model.WriteTo(stream, cancellationToken);
            stream.Flush(flushToDisk: true);
        }
        var manifest = (JsonObject)expected.DeepClone();
        manifest["model"] = new JsonObject { ["length"] = new FileInfo(modelPath).Length, ["sha256"] = HashFile(modelPath) };
        manifest["nodes"] = built.Graph.NodeCount;
        using (var stream = new FileStream(Path.Combine(temp, ManifestName), FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>What identifies an entry (everything the key hashes).</summary>
    private static JsonObject Describe(DiffusersComponentKind kind, string folder, GraphBuildOptions options, byte[] configBytes, WeightFiles weights)
    {
        var files = new JsonArray();
        foreach (WeightFile file in weights.Files)
        {
            var info = new FileInfo(file.ResolvedPath);
            files.Add(new JsonObject
            {
                ["name"] = file.FileName,
                ["resolved"] = file.ResolvedPath,
                ["length"] = info.Length,
                ["modified"] = info.LastWriteTimeUtc.Ticks,
                ["header_sha256"] = Convert.ToHexStringLower(file.Header.HeaderSha256),
            });
        }
        return new JsonObject
        {
            ["format"] = ManifestFormat,
            ["builder"] = BuilderIdentity,
            ["kind"] = KindName(kind),
            ["source"] = folder,
            ["dtype"] = options.Dtype.ToString(),
            ["target"] = options.Target.ToString(),
            ["optimizations"] = ((int)options.EffectiveOptimizations).ToString(CultureInfo.InvariantCulture),
            ["variant"] = options.Variant,
            ["attention_mask"] = kind == DiffusersComponentKind.TextEncoder && options.TextEncoderAttentionMask,
            ["config_sha256"] = Convert.ToHexStringLower(SHA256.HashData(configBytes)),
            ["weights"] = files,
        };
    }

    /// <summary>Whether <paramref name="entry"/> is complete and describes exactly <paramref name="expected"/>.</summary>
    private static bool IsValid(string entry, JsonObject expected)
    {
        try
        {
            string manifestPath = Path.Combine(entry, ManifestName);
            var manifestInfo = new FileInfo(manifestPath);
            if (!manifestInfo.Exists || manifestInfo.Length > (1 << 20))
            {
                return false;
            }
            if (JsonNode.Parse(File.ReadAllBytes(manifestPath)) is not JsonObject manifest)
            {
                return false;
            }
            foreach ((string name, JsonNode? value) in expected)
            {
                if (!JsonNode.DeepEquals(manifest[name], value))
                {
                    return false;
                }
            }
            string modelPath = Path.Combine(entry, ModelName);
            if (manifest["model"] is not JsonObject model || !File.Exists(modelPath)
                || model["length"]?.GetValue<long>() != new FileInfo(modelPath).Length
                || model["sha256"]?.GetValue<string>() != HashFile(modelPath))
            {
                return false;
            }
            string configCopy = Path.Combine(entry, "config.json");
            if (!File.Exists(configCopy) || Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(configCopy))) != expected["config_sha256"]!.GetValue<string>())
            {
                return false;
            }
            foreach (JsonNode? file in expected["weights"]!.AsArray())
            {
                string path = Path.Combine(entry, file!["name"]!.GetValue<string>());
                var info = new FileInfo(path);
                if (!info.Exists || info.Length != file["length"]!.GetValue<long>())
                {
                    return false;
                }
                if (Convert.ToHexStringLower(Safetensors.SafetensorsFile.Read(path).HeaderSha256) != file["header_sha256"]!.GetValue<string>())
                {
                    return false;
                }
            }
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or FormatException
            or ModelLoadException)
        {
            return false;
        }
    }

    private static byte[] ReadConfigBytes(string path)
    {
        _ = ConfigJson.Load(path); // one-line errors for a missing, oversized or invalid file
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(path, $"cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>Removes an entry: renamed away first (so no one sees a half-deleted entry), then deleted.</summary>
    private static void Remove(string entry)
    {
        string trash = Path.Combine(Path.GetDirectoryName(entry)!, $"{TempPrefix}trash-{Guid.NewGuid():N}");
        try
        {
            Directory.Move(entry, trash);
        }
        catch (DirectoryNotFoundException)
        {
            return; // another builder removed it first
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (!Directory.Exists(entry))
            {
                return;
            }
            throw new ModelLoadException(entry, $"a stale or corrupt graph cache entry cannot be removed: {ex.Message}", ex);
        }
        TryDeleteDirectory(trash);
    }

    /// <summary>Best effort: older entries of the same source (their weights changed) and abandoned temporary folders.</summary>
    private static void CleanUp(string root, string sourcePrefix, string keep)
    {
        try
        {
            foreach (string dir in Directory.EnumerateDirectories(root))
            {
                string name = Path.GetFileName(dir);
                if (name != keep && name.StartsWith(sourcePrefix, StringComparison.Ordinal))
                {
                    string trash = Path.Combine(root, $"{TempPrefix}trash-{Guid.NewGuid():N}");
                    try
                    {
                        Directory.Move(dir, trash);
                        TryDeleteDirectory(trash);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        // In use elsewhere (Windows): left for a later clean-up.
                    }
                }
                else if (name.StartsWith(TempPrefix, StringComparison.Ordinal) && DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) > StaleTempAge)
                {
                    TryDeleteDirectory(dir);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Clean-up never fails a load.
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left behind; CleanUp removes abandoned temporary folders later.
        }
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
