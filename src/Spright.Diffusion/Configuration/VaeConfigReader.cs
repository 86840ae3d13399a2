
using Spright.Diffusion.Components;

namespace Spright.Diffusion.Configuration;

/// <summary>Reads <see cref="VaeInfo"/> from an <c>AutoencoderKL</c> <c>config.json</c>, with SD defaults when absent.</summary>
internal static class VaeConfigReader
{
    public static VaeInfo Read(string componentFolder)
    {
        JsonConfigFile? config = JsonConfigFile.LoadOptional(Path.Combine(componentFolder, "config.json"));
        if (config is null)
        {
            return new VaeInfo(0.18215f, 8, 4, sampleSize: null);
        }
        double scaling = config.GetDouble("scaling_factor", 1e-6, 1e6) ?? 0.18215;
        int[]? blocks = config.GetIntArray("block_out_channels", 1, 1 << 16);
        if (blocks is { Length: 0 })
        {
            throw new ModelLoadException(config.Path, "key 'block_out_channels' is empty");
        }
        int scale = blocks is null ? 8 : 1 << Math.Min(blocks.Length - 1, 16);
        int latentChannels = config.GetInt("latent_channels", 1, 1024) ?? 4;
        config.GetBool("force_upcast");
        int? sampleSize = SampleSize(config);
        if (config.GetDouble("shift_factor") is double shift && shift != 0)
        {
            throw new ModelLoadException(config.Path, $"shift_factor {shift} belongs to SD3/Flux VAEs, which this Stable Diffusion 2.x pipeline does not support");
        }
        return new VaeInfo((float)scaling, scale, latentChannels, sampleSize);
    }

    /// <summary><c>sample_size</c>: an int, or a [height, width] pair of which diffusers' tiling uses the first.</summary>
    private static int? SampleSize(JsonConfigFile config)
    {
        if (!config.Contains("sample_size") || config.Root["sample_size"] is null)
        {
            return null;
        }
        if (config.Root["sample_size"] is System.Text.Json.Nodes.JsonArray)
        {
            int[] pair = config.GetIntArray("sample_size", 8, 1 << 16)!;
            return pair.Length > 0 ? pair[0] : throw new ModelLoadException(config.Path, "key 'sample_size' is an empty list");
        }
        return config.GetInt("sample_size", 8, 1 << 16);
    }
}
