using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Spright.Diffusion.Hub;

/// <summary>
/// Which files of a diffusers pipeline repository get downloaded.
/// <para>Torch weights follow diffusers 0.31's <c>DiffusionPipeline.download</c> (<c>pipelines/pipeline_utils.py</c>,
/// <c>pipeline_loading_utils.py</c>: <c>variant_compatible_siblings</c>, <c>is_safetensors_compatible</c>,
/// <c>_get_ignore_patterns</c>): the weights of every component folder named in <c>model_index.json</c>, safetensors
/// preferred over <c>.bin</c> (unless <c>use_safetensors</c> says otherwise), the variant's files when one is asked,
/// <c>config.json</c> of weight folders, everything in the other component folders, and the root configs; never
/// <c>.onnx</c>/<c>.pb</c>, README, images or <c>.gitattributes</c>.</para>
/// <para>ONNX repositories follow optimum's <c>ORTDiffusionPipeline.from_pretrained</c>
/// (<c>optimum/onnxruntime/modeling_diffusion.py</c>): every file in the component folders (the model_index keys plus
/// <c>vae_encoder</c> and <c>vae_decoder</c>) and the root <c>model.onnx</c>, <c>model_index.json</c>,
/// <c>scheduler_config.json</c>, <c>config.json</c>, except <c>*.msgpack</c>, <c>*.safetensors</c>, <c>*.bin</c>,
/// <c>*.xml</c>, so that external data (<c>model.onnx_data</c>, <c>weights.pb</c>) comes along, which diffusers' rules
/// would skip. A repository is taken as ONNX when <c>UseOnnx</c> says so, else when its <c>_class_name</c> is an ONNX
/// pipeline (diffusers' <c>_is_onnx</c> classes, optimum's <c>ORT…</c>) or a component folder holds
/// <c>model.onnx</c>. A variant there takes the variant's weights in place of the plain ones.</para>
/// </summary>
internal sealed partial class PipelineFileSelection
{
    /// <summary>diffusers' weight names (with transformers installed): prefixes and extensions.</summary>
    private const string WeightPrefixes = "diffusion_pytorch_model|diffusion_pytorch_model|diffusion_flax_model|model|weights|pytorch_model|model|flax_model";
    private const string WeightSuffixes = "bin|safetensors|msgpack|onnx|pb|bin|safetensors|msgpack";
    private const string IndexFormat = @"\d{5}-of-\d{5}";

    private static readonly string[] s_onnxPipelineClasses =
    [
        "OnnxStableDiffusionPipeline", "OnnxStableDiffusionImg2ImgPipeline", "OnnxStableDiffusionInpaintPipeline",
        "OnnxStableDiffusionInpaintPipelineLegacy", "OnnxStableDiffusionUpscalePipeline", "StableDiffusionOnnxPipeline",
    ];

    private readonly List<GlobPattern> _allow;
    private readonly List<GlobPattern> _ignore;
    private readonly HashSet<string> _excluded;

    private PipelineFileSelection(bool isOnnx, List<string> allow, List<string> ignore, HashSet<string> excluded, IReadOnlyList<string> repoFiles)
    {
        IsOnnx = isOnnx;
        AllowPatterns = allow;
        IgnorePatterns = ignore;
        _allow = [.. allow.Select(p => GlobPattern.Parse(p))];
        _ignore = [.. ignore.Select(p => GlobPattern.Parse(p))];
        _excluded = excluded;
        // diffusers' expected_files: re.match(fnmatch.translate(p)) — case-sensitive everywhere.
        List<GlobPattern> allowExact = [.. allow.Select(p => GlobPattern.Parse(p, ignoreCase: false))];
        List<GlobPattern> ignoreExact = [.. ignore.Select(p => GlobPattern.Parse(p, ignoreCase: false))];
        ExpectedFiles = [.. repoFiles.Where(f => !GlobPattern.MatchesAny(ignoreExact, f) && GlobPattern.MatchesAny(allowExact, f) && !excluded.Contains(f))];
    }

    /// <summary>Whether the ONNX rules were used.</summary>
    public bool IsOnnx { get; }

    public IReadOnlyList<string> AllowPatterns { get; }

    public IReadOnlyList<string> IgnorePatterns { get; }

    /// <summary>The repository files the pipeline needs: when all are in the snapshot of <c>model_index.json</c>, nothing
    /// else is asked (diffusers' <c>pipeline_is_cached</c>).</summary>
    public IReadOnlyList<string> ExpectedFiles { get; }

    /// <summary>The filter given to the snapshot download (huggingface_hub's <c>filter_repo_objects</c>).</summary>
    public bool Includes(string path) =>
        GlobPattern.MatchesAny(_allow, path) && !GlobPattern.MatchesAny(_ignore, path) && !_excluded.Contains(path);

    /// <summary>Chooses the files from the repository's file list and its <c>model_index.json</c>.</summary>
    /// <exception cref="HubException">A variant was asked and the repository has no file of it, safetensors were required
    /// and a component lacks them, or ONNX was asked and there is no ONNX graph (<see cref="HubErrorKind.EntryNotFound"/>).</exception>
    public static PipelineFileSelection Select(string repoId, string revision, IReadOnlyList<string> repoFiles, JsonObject modelIndex,
        string? variant, bool? useSafetensors, bool? useOnnx)
    {
        var filenames = new HashSet<string>(repoFiles, StringComparer.Ordinal);
        (HashSet<string> modelFilenames, HashSet<string> variantFilenames, HashSet<string> nonVariantFilenames) = VariantCompatibleSiblings(filenames, variant);
        HashSet<string> ignoreFiles = StringList(modelIndex, "_ignore_files");
        modelFilenames.ExceptWith(ignoreFiles);
        variantFilenames.ExceptWith(ignoreFiles);

        // folder_names: every key holding a list, except _class_name (and _ignore_files, popped before).
        List<string> folderNames = [.. modelIndex.Where(kv => kv.Value is JsonArray && kv.Key is not "_class_name" and not "_ignore_files").Select(kv => kv.Key)];
        if (variant is not null && variantFilenames.Count == 0)
        {
            throw new HubException(HubErrorKind.EntryNotFound, repoId, null,
                $"Hub repository '{repoId}' has no weights of variant '{variant}' at revision '{revision}' (files such as diffusion_pytorch_model.{variant}.safetensors)");
        }

        string? className = modelIndex["_class_name"] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        bool classIsOnnx = className is not null
            && (s_onnxPipelineClasses.Contains(className, StringComparer.Ordinal) || className.StartsWith("ORT", StringComparison.Ordinal));
        var onnxFolders = new HashSet<string>(modelIndex.Select(kv => kv.Key).Where(k => !k.StartsWith('_')), StringComparer.Ordinal) { "vae_encoder", "vae_decoder" };
        bool repoHasOnnx = filenames.Any(f => f.Split('/') is [string folder, "model.onnx"] && onnxFolders.Contains(folder));
        bool onnx = useOnnx ?? (classIsOnnx || repoHasOnnx);

        return onnx
            ? SelectOnnx(repoId, revision, repoFiles, onnxFolders, ignoreFiles, variant is null ? [] : nonVariantFilenames.Except(modelFilenames))
            : SelectTorch(repoId, revision, repoFiles, filenames, modelIndex, folderNames, modelFilenames, variant, useSafetensors);
    }

    private static PipelineFileSelection SelectOnnx(string repoId, string revision, IReadOnlyList<string> repoFiles, HashSet<string> folders,
        HashSet<string> ignoreFiles, IEnumerable<string> supersededByVariant)
    {
        List<string> allow = [.. folders.Order(StringComparer.Ordinal).Select(f => f + "/*"), "model.onnx", "model_index.json", "scheduler_config.json", "config.json"];
        List<string> ignore = ["*.msgpack", "*.safetensors", "*.bin", "*.xml"];
        ignore.AddRange(ignore.Select(p => p + ".index.*json").ToList());
        var excluded = new HashSet<string>(ignoreFiles, StringComparer.Ordinal);
        excluded.UnionWith(supersededByVariant);
        var selection = new PipelineFileSelection(true, allow, ignore, excluded, repoFiles);
        if (!selection.ExpectedFiles.Any(f => f.EndsWith(".onnx", StringComparison.Ordinal)))
        {
            throw new HubException(HubErrorKind.EntryNotFound, repoId, null,
                $"Hub repository '{repoId}' has no ONNX graph (model.onnx) in its component folders at revision '{revision}'");
        }
        return selection;
    }

    private static PipelineFileSelection SelectTorch(string repoId, string revision, IReadOnlyList<string> repoFiles, HashSet<string> filenames,
        JsonObject modelIndex, List<string> folderNames, HashSet<string> modelFilenames, string? variant, bool? useSafetensors)
    {
        // Custom component code ({folder}/{module}.py) and a custom pipeline (_class_name = [module, class]).
        var customComponents = new List<string>();
        foreach (string folder in folderNames)
        {
            if (modelIndex[folder] is JsonArray { Count: > 0 } entry && entry[0] is JsonValue m && m.GetValueKind() == JsonValueKind.String
                && filenames.Contains($"{folder}/{m.GetValue<string>()}.py"))
            {
                customComponents.Add($"{folder}/{m.GetValue<string>()}.py");
            }
        }
        string? customPipeline = modelIndex["_class_name"] is JsonArray { Count: > 0 } pair && pair[0] is JsonValue p && p.GetValueKind() == JsonValueKind.String
            ? p.GetValue<string>() : null;

        var modelFolderNames = new HashSet<string>(modelFilenames.Select(DirName).Where(d => folderNames.Contains(d)), StringComparer.Ordinal);
        List<string> allow = [.. modelFilenames.Order(StringComparer.Ordinal)];
        allow.AddRange(folderNames.Where(k => !modelFolderNames.Contains(k)).Select(k => k + "/*"));
        allow.AddRange(customComponents);
        if (customPipeline is not null && filenames.Contains(customPipeline + ".py"))
        {
            allow.Add(customPipeline + ".py");
        }
        allow.AddRange(modelFolderNames.Order(StringComparer.Ordinal).Select(k => k + "/config.json"));
        allow.AddRange(["scheduler_config.json", "config.json", "model_index.json", "pipeline.py"]);

        // _get_ignore_patterns (no components passed in, no flax, ONNX off).
        bool safetensors = useSafetensors ?? true;
        bool allowPickle = useSafetensors is null;
        bool compatible = IsSafetensorsCompatible(modelFilenames, modelFolderNames);
        if (safetensors && !allowPickle && !compatible)
        {
            throw new HubException(HubErrorKind.EntryNotFound, repoId, null,
                $"Hub repository '{repoId}' lacks safetensors weights for some component at revision '{revision}'{(variant is null ? string.Empty : $" (variant '{variant}')")}, and UseSafetensors is true");
        }
        List<string> ignore = safetensors && compatible ? ["*.bin", "*.msgpack"] : ["*.safetensors", "*.msgpack"];
        ignore.AddRange(["*.onnx", "*.pb"]);
        ignore.AddRange(ignore.Select(i => i + ".index.*json").ToList());
        return new PipelineFileSelection(false, allow, ignore, [], repoFiles);
    }

    /// <summary>diffusers 0.31 <c>variant_compatible_siblings</c>: (the weight files to use, the variant's weight files, every
    /// non-variant weight file). A plain file is used unless its variant counterpart exists.</summary>
    internal static (HashSet<string> Usable, HashSet<string> Variant, HashSet<string> NonVariant) VariantCompatibleSiblings(
        IReadOnlyCollection<string> filenames, string? variant)
    {
        var variantFiles = new HashSet<string>(StringComparer.Ordinal);
        if (variant is not null)
        {
            string v = Regex.Escape(variant);
            var variantFile = new Regex($"^({WeightPrefixes})\\.({v}|{v}-{IndexFormat})\\.({WeightSuffixes})$", RegexOptions.CultureInvariant);
            var variantIndex = new Regex($"^({WeightPrefixes})\\.({WeightSuffixes})\\.index\\.{v}\\.json$", RegexOptions.CultureInvariant);
            variantFiles.UnionWith(filenames.Where(f => variantFile.IsMatch(BaseName(f)) || variantIndex.IsMatch(BaseName(f))));
        }
        var nonVariant = new HashSet<string>(filenames.Where(f => NonVariantFileRegex().IsMatch(BaseName(f)) || NonVariantIndexRegex().IsMatch(BaseName(f))),
            StringComparer.Ordinal);
        var usable = new HashSet<string>(variantFiles, StringComparer.Ordinal);
        foreach (string f in nonVariant)
        {
            if (variant is null || !usable.Contains(ConvertToVariant(f, variant)))
            {
                usable.Add(f);
            }
        }
        return (usable, variantFiles, nonVariant);
    }

    /// <summary>diffusers' <c>convert_to_variant</c>, on the whole path as diffusers does it.</summary>
    private static string ConvertToVariant(string filename, string variant)
    {
        if (filename.Contains("index", StringComparison.Ordinal))
        {
            return filename.Replace("index", $"index.{variant}", StringComparison.Ordinal);
        }
        if (ShardedRegex().IsMatch(filename))
        {
            string[] dash = filename.Split('-');
            return $"{dash[0]}.{variant}-{string.Join('-', dash[1..])}";
        }
        string[] dot = filename.Split('.');
        return $"{dot[0]}.{variant}.{dot[1]}";
    }

    /// <summary>diffusers' <c>is_safetensors_compatible</c>: every component folder with weights has a
    /// <c>.safetensors</c> file.</summary>
    private static bool IsSafetensorsCompatible(HashSet<string> modelFilenames, HashSet<string> modelFolderNames)
    {
        List<string> files = [.. modelFilenames.Where(f => modelFolderNames.Contains(DirName(f)))];
        var components = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string f in files)
        {
            string[] parts = f.Split('/');
            if (parts.Length != 2)
            {
                continue;
            }
            if (!components.TryGetValue(parts[0], out List<string>? list))
            {
                components[parts[0]] = list = [];
            }
            list.Add(parts[1]);
        }
        if (components.Count == 0)
        {
            return files.Any(f => f.Contains(".safetensors", StringComparison.Ordinal));
        }
        return components.Values.All(names => names.Any(n => Path.GetExtension(n) == ".safetensors"));
    }

    private static HashSet<string> StringList(JsonObject root, string key)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (root[key] is JsonArray array)
        {
            foreach (JsonNode? node in array)
            {
                if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
                {
                    set.Add(value.GetValue<string>());
                }
            }
        }
        return set;
    }

    /// <summary>Python's <c>os.path.split(f)[0]</c> on a repository path.</summary>
    private static string DirName(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? string.Empty : path[..slash];
    }

    private static string BaseName(string path) => path[(path.LastIndexOf('/') + 1)..];

    [GeneratedRegex($"^({WeightPrefixes})(-{IndexFormat})?\\.({WeightSuffixes})$", RegexOptions.CultureInvariant)]
    private static partial Regex NonVariantFileRegex();

    [GeneratedRegex($"^({WeightPrefixes})\\.({WeightSuffixes})\\.index\\.json", RegexOptions.CultureInvariant)]
    private static partial Regex NonVariantIndexRegex();

    [GeneratedRegex($"^(.*?){IndexFormat}", RegexOptions.CultureInvariant)]
    private static partial Regex ShardedRegex();
}
