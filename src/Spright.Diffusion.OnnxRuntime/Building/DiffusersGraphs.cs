namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// The entry point for diffusers-layout component folders (config.json + safetensors, no ONNX file): builds the ONNX
/// graph in C# with the weights referenced in place and caches it (see <see cref="GraphCache"/>).
/// </summary>
internal static class DiffusersGraphs
{
    /// <summary>
    /// Returns the path of a <c>model.onnx</c> for <paramref name="kind"/> built from <paramref name="componentFolder"/>
    /// (<c>text_encoder/</c>, <c>unet/</c>, or <c>vae/</c> for both VAE halves), from the cache when a valid entry exists.
    /// The graph has the optimum export's I/O (names, element types, dynamic axes); a <c>config.json</c> sits beside it.
    /// </summary>
    /// <param name="kind">The component.</param>
    /// <param name="componentFolder">The diffusers component folder (may be a Hugging Face cache snapshot of symlinks).</param>
    /// <param name="options">Precision, variant, target and cache folder.</param>
    /// <param name="cancellationToken">Cancels the build (no cache entry is left half-written).</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="ModelLoadException">The folder's config or weights are missing or invalid, or describe something the
    /// builder does not implement; or the cache cannot be written.</exception>
    public static string GetOrBuild(DiffusersComponentKind kind, string componentFolder, GraphBuildOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(componentFolder);
        ArgumentNullException.ThrowIfNull(options);
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown component kind.");
        }
        options.Validate();
        if (!Directory.Exists(componentFolder))
        {
            throw new ModelLoadException(componentFolder, "the component folder does not exist");
        }
        return GraphCache.GetOrBuild(kind, componentFolder, options, cancellationToken);
    }

    /// <summary>Whether <paramref name="componentFolder"/> is a diffusers-layout component: a <c>config.json</c>, safetensors
    /// weights (or a sharded index) and no <c>model.onnx</c>.</summary>
    public static bool IsDiffusersLayout(string componentFolder)
    {
        if (!Directory.Exists(componentFolder) || !File.Exists(Path.Combine(componentFolder, "config.json"))
            || File.Exists(Path.Combine(componentFolder, "model.onnx")))
        {
            return false;
        }
        return Directory.EnumerateFiles(componentFolder, "*.safetensors").Any()
            || Directory.EnumerateFiles(componentFolder, "*.safetensors.index*.json").Any();
    }

    /// <summary>Whether <paramref name="modelFolder"/> (a pipeline folder with model_index.json) holds its UNet in the
    /// diffusers layout, i.e. the pipeline needs built graphs.</summary>
    public static bool IsDiffusersPipeline(string modelFolder) =>
        File.Exists(Path.Combine(modelFolder, "model_index.json")) && IsDiffusersLayout(Path.Combine(modelFolder, "unet"));
}
