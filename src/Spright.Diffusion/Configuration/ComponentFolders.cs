namespace Spright.Diffusion.Configuration;

/// <summary>
/// Finds a model folder's component sub-folders as diffusers and optimum lay them out: <c>text_encoder/</c>,
/// <c>unet/</c>, and the VAE either as one diffusers <c>vae/</c> folder or as optimum's <c>vae_decoder/</c> and
/// <c>vae_encoder/</c> (whose model_index.json still says <c>vae</c>). Names come from model_index.json and must stay
/// inside the model folder.
/// </summary>
internal static class ComponentFolders
{
    /// <summary>The folder of a component <c>model_index.json</c> lists.</summary>
    /// <exception cref="ModelLoadException">The index has no such component, or its folder is missing.</exception>
    public static string Require(string modelPath, ModelIndex index, string name)
    {
        if (!index.TryGetComponent(name, out _))
        {
            throw new ModelLoadException(index.Path, $"the pipeline needs a '{name}' component but model_index.json has none");
        }
        string dir = ModelFiles.ResolveInside(modelPath, name, index.Path);
        if (!Directory.Exists(dir))
        {
            throw new ModelLoadException(dir, $"the '{name}' component folder is missing");
        }
        return dir;
    }

    /// <summary>The folder holding the VAE decoder (<paramref name="part"/> = <c>vae_decoder</c>) or encoder
    /// (<c>vae_encoder</c>): optimum's per-part folder when it exists, else the diffusers <c>vae/</c> folder.</summary>
    /// <exception cref="ModelLoadException">The index names no VAE, or neither folder exists.</exception>
    public static string Vae(string modelPath, ModelIndex index, string part)
    {
        bool listed = index.TryGetComponent(part, out _);
        if (!listed && !index.TryGetComponent("vae", out _))
        {
            throw new ModelLoadException(index.Path, $"the pipeline needs a VAE ('{part}' or 'vae') but model_index.json has none");
        }
        string partDir = ModelFiles.ResolveInside(modelPath, part, index.Path);
        if (Directory.Exists(partDir))
        {
            return partDir;
        }
        string vaeDir = ModelFiles.ResolveInside(modelPath, "vae", index.Path);
        if (!listed && Directory.Exists(vaeDir))
        {
            return vaeDir;
        }
        throw new ModelLoadException(partDir,
            $"the '{part}' folder is missing (an ONNX export keeps the VAE as vae_decoder/ and vae_encoder/, a diffusers folder as vae/)");
    }
}
