using System.Text.Json;
using System.Text.Json.Nodes;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// Writes a diffusers pipeline folder as the optimum ONNX layout (what <c>optimum-cli export onnx</c> produces and
/// ORTStableDiffusionPipeline loads), without Python: <c>model_index.json</c> (unchanged), <c>text_encoder/</c>,
/// <c>unet/</c>, <c>vae_encoder/</c>, <c>vae_decoder/</c> each with <c>model.onnx</c> (weights inline, or in
/// <c>model.onnx_data</c> when the graph would pass protobuf's 2 GB limit) and <c>config.json</c> as optimum writes
/// them (text_encoder's with <c>"export_model_type": "clip-text"</c>; both VAE parts get the AutoencoderKL config), plus
/// <c>scheduler/</c>, <c>tokenizer/</c> and <c>feature_extractor/</c> copied. Everything is written into a temporary
/// sibling folder and renamed into place at the end, so a failed or cancelled export leaves nothing behind.
/// </summary>
internal static class OptimumExport
{
    /// <summary>Initializer bytes above which a graph's weights go to <c>model.onnx_data</c> (protobuf's limit is 2 GiB for
    /// the whole model; optimum switches to external data when the export passes it).</summary>
    public const long DefaultExternalDataThreshold = 1_900_000_000;

    private static readonly string[] CopiedFolders = ["scheduler", "tokenizer", "tokenizer_2", "feature_extractor"];

    /// <summary>Exports <paramref name="diffusersFolder"/> to <paramref name="outputFolder"/> (which must not exist, or be
    /// empty) with standard ONNX operators.</summary>
    /// <param name="diffusersFolder">A diffusers pipeline folder (model_index.json, text_encoder/, unet/, vae/ …).</param>
    /// <param name="outputFolder">The folder to create.</param>
    /// <param name="dtype">float32, or float16 (the VAE stays float32 when its config sets force_upcast).</param>
    /// <param name="cancellationToken">Cancels the export (nothing is left behind).</param>
    /// <returns>The output folder.</returns>
    public static string Write(string diffusersFolder, string outputFolder, GraphDtype dtype, CancellationToken cancellationToken = default) =>
        Write(diffusersFolder, outputFolder, dtype, GraphOptimizations.None, DefaultExternalDataThreshold, cancellationToken);

    /// <summary>Exports <paramref name="diffusersFolder"/> to <paramref name="outputFolder"/> (which must not exist, or be empty).</summary>
    /// <param name="diffusersFolder">A diffusers pipeline folder (model_index.json, text_encoder/, unet/, vae/ …).</param>
    /// <param name="outputFolder">The folder to create.</param>
    /// <param name="dtype">float32, or float16 (the VAE stays float32 when its config sets force_upcast).</param>
    /// <param name="optimizations">The operator set (standard ONNX operators only = portable to any ONNX Runtime
    /// execution provider).</param>
    /// <param name="externalDataThreshold">See <see cref="DefaultExternalDataThreshold"/>.</param>
    /// <param name="cancellationToken">Cancels the export (nothing is left behind).</param>
    /// <returns>The output folder.</returns>
    /// <exception cref="ArgumentException">The output folder exists and is not empty, or lies inside the source.</exception>
    /// <exception cref="ModelLoadException">The source folder's configs or weights are missing or invalid.</exception>
    public static string Write(string diffusersFolder, string outputFolder, GraphDtype dtype, GraphOptimizations optimizations,
        long externalDataThreshold, CancellationToken cancellationToken = default) =>
        Write(diffusersFolder, outputFolder, dtype, variant: null, optimizations, externalDataThreshold, cancellationToken);

    /// <summary>Exports <paramref name="diffusersFolder"/> to <paramref name="outputFolder"/> (which must not exist, or be
    /// empty), reading the weights of <paramref name="variant"/>.</summary>
    /// <param name="diffusersFolder">A diffusers pipeline folder (model_index.json, text_encoder/, unet/, vae/ …).</param>
    /// <param name="outputFolder">The folder to create.</param>
    /// <param name="dtype">float32, or float16 (the VAE stays float32 when its config sets force_upcast).</param>
    /// <param name="variant">null for <c>{prefix}.safetensors</c>, e.g. <c>"fp16"</c> for <c>{prefix}.fp16.safetensors</c>
    /// (an error when a component lacks that file).</param>
    /// <param name="optimizations">The operator set (standard ONNX operators only = portable to any ONNX Runtime
    /// execution provider).</param>
    /// <param name="externalDataThreshold">See <see cref="DefaultExternalDataThreshold"/>.</param>
    /// <param name="cancellationToken">Cancels the export (nothing is left behind).</param>
    /// <returns>The output folder.</returns>
    /// <exception cref="ArgumentException">The output folder exists and is not empty, or lies inside the source; or the
    /// variant is not a plain file-name part.</exception>
    /// <exception cref="ModelLoadException">The source folder's configs or weights are missing or invalid.</exception>
    public static string Write(string diffusersFolder, string outputFolder, GraphDtype dtype, string? variant, GraphOptimizations optimizations,
        long externalDataThreshold, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(diffusersFolder);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        if (!Enum.IsDefined(dtype))
        {
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "dtype must be Float32 or Float16.");
        }
        var options = new GraphBuildOptions { Dtype = dtype, Variant = variant, Optimizations = optimizations };
        options.Validate();
        string source = Path.GetFullPath(diffusersFolder);
        string output = Path.GetFullPath(outputFolder).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        string indexPath = Path.Combine(source, "model_index.json");
        if (!File.Exists(indexPath))
        {
            throw new ModelLoadException(source, "not a diffusers pipeline folder: model_index.json is missing");
        }
        if (output.StartsWith(source.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal) || output == source)
        {
            throw new ArgumentException($"The output folder {output} lies inside the model folder {source}.", nameof(outputFolder));
        }
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
        {
            throw new ArgumentException($"The output folder {output} exists and is not empty.", nameof(outputFolder));
        }
        string parent = Path.GetDirectoryName(output) ?? throw new ArgumentException("The output folder has no parent folder.", nameof(outputFolder));
        if (!Directory.Exists(parent))
        {
            throw new DirectoryNotFoundException($"The output folder's parent does not exist: {parent}");
        }

        string temp = Path.Combine(parent, $".{Path.GetFileName(output)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            ExportComponent(DiffusersComponentKind.TextEncoder, Path.Combine(source, "text_encoder"), Path.Combine(temp, "text_encoder"), options, externalDataThreshold, cancellationToken);
            ExportComponent(DiffusersComponentKind.UNet, Path.Combine(source, "unet"), Path.Combine(temp, "unet"), options, externalDataThreshold, cancellationToken);
            ExportComponent(DiffusersComponentKind.VaeEncoder, Path.Combine(source, "vae"), Path.Combine(temp, "vae_encoder"), options, externalDataThreshold, cancellationToken);
            ExportComponent(DiffusersComponentKind.VaeDecoder, Path.Combine(source, "vae"), Path.Combine(temp, "vae_decoder"), options, externalDataThreshold, cancellationToken);

            WriteTextEncoderConfig(Path.Combine(source, "text_encoder", "config.json"), Path.Combine(temp, "text_encoder", "config.json"), dtype);
            File.Copy(Path.Combine(source, "unet", "config.json"), Path.Combine(temp, "unet", "config.json"));
            File.Copy(Path.Combine(source, "vae", "config.json"), Path.Combine(temp, "vae_encoder", "config.json"));
            File.Copy(Path.Combine(source, "vae", "config.json"), Path.Combine(temp, "vae_decoder", "config.json"));
            foreach (string folder in CopiedFolders)
            {
                string from = Path.Combine(source, folder);
                if (Directory.Exists(from))
                {
                    CopyFolder(from, Path.Combine(temp, folder), cancellationToken);
                }
            }
            File.Copy(indexPath, Path.Combine(temp, "model_index.json"));
            cancellationToken.ThrowIfCancellationRequested();
            if (Directory.Exists(output))
            {
                Directory.Delete(output);
            }
            Directory.Move(temp, output);
            return output;
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                try
                {
                    Directory.Delete(temp, recursive: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Best effort: a hidden temporary folder is left.
                }
            }
        }
    }

    private static void ExportComponent(DiffusersComponentKind kind, string componentFolder, string outputFolder, GraphBuildOptions options,
        long externalDataThreshold, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(componentFolder))
        {
            throw new ModelLoadException(componentFolder, "the component folder is missing");
        }
        Directory.CreateDirectory(outputFolder);
        var store = new WrittenWeightStore(null);
        BuiltGraph built = ComponentGraphBuilder.Build(kind, componentFolder, options, store);
        if (built.Graph.InitializerBytes > externalDataThreshold)
        {
            store = new WrittenWeightStore("model.onnx_data");
            built = ComponentGraphBuilder.Build(kind, componentFolder, options, store);
            using (var data = new FileStream(Path.Combine(outputFolder, "model.onnx_data"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                foreach (ProtoSegment segment in store.DataFile)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    segment.Write(data, cancellationToken);
                }
                data.Flush(flushToDisk: true);
            }
        }
        ProtoBuffer model = built.Graph.ToModel("spright-diffusion", GraphCache.BuilderVersion);
        using var stream = new FileStream(Path.Combine(outputFolder, "model.onnx"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        model.WriteTo(stream, cancellationToken);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>The CLIPTextConfig as optimum saves it: the source config plus <c>export_model_type</c> (and
    /// <c>torch_dtype</c> float16 for a float16 export).</summary>
    private static void WriteTextEncoderConfig(string sourceConfig, string destination, GraphDtype dtype)
    {
        ConfigJson config = ConfigJson.Load(sourceConfig);
        var root = (JsonObject)config.Root.DeepClone();
        if (dtype == GraphDtype.Float16)
        {
            root["torch_dtype"] = "float16";
        }
        root["export_model_type"] = "clip-text";
        var sorted = new JsonObject();
        foreach ((string key, JsonNode? value) in root.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sorted[key] = value?.DeepClone();
        }
        File.WriteAllText(destination, sorted.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static void CopyFolder(string from, string to, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from))
        {
            cancellationToken.ThrowIfCancellationRequested();
            // A Hugging Face snapshot holds symlinks: copy the content.
            File.Copy(WeightFiles.ResolveFinal(file), Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
