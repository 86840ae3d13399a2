namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// Builds the two halves of diffusers' AutoencoderKL (autoencoders/vae.py Encoder / Decoder, autoencoder_kl.py): the
/// encoder with quant_conv, whose output is optimum's <c>latent_parameters</c> (concat(mean, logvar), unclamped), and
/// the decoder with post_quant_conv. Every GroupNorm uses eps 1e-6; the mid-block attention is one head over all
/// channels, under either key naming (to_q/to_k/to_v/to_out.0 or the old query/key/value/proj_attn).
/// </summary>
internal static class VaeGraphBuilder
{
    private const double Eps = 1e-6;

    /// <summary>Builds the encoder: <c>sample</c> [batch_size, in, sample_height, sample_width] → <c>latent_parameters</c>.</summary>
    public static void BuildEncoder(NetBuilder net, VaeConfig config)
    {
        OnnxGraph g = net.G;
        int[] ch = config.BlockOutChannels;
        int levels = ch.Length;
        string x = g.Input("sample", net.T, "batch_size", config.InChannels, "sample_height", "sample_width");
        string h = net.Conv(net.FromGraphLayout(x), "encoder.conv_in", config.InChannels, ch[0], 3);
        string spatial = net.Spatial(h);
        int channels = ch[0];
        for (int i = 0; i < levels; i++)
        {
            string prefix = $"encoder.down_blocks.{i}";
            using (g.Scope(prefix))
            {
                for (int j = 0; j < config.LayersPerBlock; j++)
                {
                    h = Resnet(net, config, h, $"{prefix}.resnets.{j}", channels, ch[i], spatial);
                    channels = ch[i];
                }
                if (i < levels - 1)
                {
                    // diffusers pads one zero column right and one row bottom, then a stride-2 3×3 conv without padding.
                    h = net.Conv(h, $"{prefix}.downsamplers.0.conv", channels, channels, 3, stride: 2, pads: [0, 0, 1, 1]);
                    spatial = net.Spatial(h);
                }
            }
        }
        h = MidBlock(net, config, h, "encoder.mid_block", channels, spatial);
        using (g.Scope("encoder.conv_out"))
        {
            h = net.GroupNorm(h, "encoder.conv_norm_out", config.NormNumGroups, channels, Eps, spatial, "silu");
            h = net.Conv(h, "encoder.conv_out", channels, 2 * config.LatentChannels, 3);
        }
        if (config.UseQuantConv)
        {
            h = net.Conv(h, "quant_conv", 2 * config.LatentChannels, 2 * config.LatentChannels, 1);
        }
        h = net.ToGraphLayout(h);
        g.Output(h, "latent_parameters", net.T, "batch_size", 2 * config.LatentChannels, Ratio("sample_height", "/", levels), Ratio("sample_width", "/", levels));
        net.RejectUnused(name => name.StartsWith("decoder.", StringComparison.Ordinal) || name.StartsWith("post_quant_conv.", StringComparison.Ordinal));
    }

    /// <summary>Builds the decoder: <c>latent_sample</c> [batch_size, latent, latent_height, latent_width] → <c>sample</c>.</summary>
    public static void BuildDecoder(NetBuilder net, VaeConfig config)
    {
        OnnxGraph g = net.G;
        int[] ch = config.BlockOutChannels;
        int levels = ch.Length;
        int latent = config.LatentChannels;
        string z = g.Input("latent_sample", net.T, "batch_size", latent, "latent_height", "latent_width");
        string h = net.FromGraphLayout(z);
        if (config.UsePostQuantConv)
        {
            h = net.Conv(h, "post_quant_conv", latent, latent, 1);
        }
        int channels = ch[^1];
        h = net.Conv(h, "decoder.conv_in", latent, channels, 3);
        string spatial = net.Spatial(h);
        h = MidBlock(net, config, h, "decoder.mid_block", channels, spatial);
        int[] reversed = ch.Reverse().ToArray();
        for (int i = 0; i < levels; i++)
        {
            string prefix = $"decoder.up_blocks.{i}";
            using (g.Scope(prefix))
            {
                for (int j = 0; j < config.LayersPerBlock + 1; j++)
                {
                    h = Resnet(net, config, h, $"{prefix}.resnets.{j}", channels, reversed[i], spatial);
                    channels = reversed[i];
                }
                if (i < levels - 1)
                {
                    h = net.UpsampleConv(h, $"{prefix}.upsamplers.0.conv", channels, null);
                    spatial = net.Spatial(h);
                }
            }
        }
        using (g.Scope("decoder.conv_out"))
        {
            h = net.GroupNorm(h, "decoder.conv_norm_out", config.NormNumGroups, channels, Eps, spatial, "silu");
            h = net.ToGraphLayout(net.Conv(h, "decoder.conv_out", channels, config.OutChannels, 3));
        }
        g.Output(h, "sample", net.T, "batch_size", config.OutChannels, Ratio("latent_height", "*", levels), Ratio("latent_width", "*", levels));
        net.RejectUnused(name => name.StartsWith("encoder.", StringComparison.Ordinal) || name.StartsWith("quant_conv.", StringComparison.Ordinal));
    }

    /// <summary>optimum's output dimension names: <c>"sample_height / 8"</c>, <c>"latent_height * 8"</c>.</summary>
    private static string Ratio(string name, string op, int levels) => $"{name} {op} {1 << (levels - 1)}";

    private static string Resnet(NetBuilder net, VaeConfig config, string x, string prefix, int inChannels, int outChannels, string spatial)
    {
        OnnxGraph g = net.G;
        using (g.Scope(prefix.Split('.')[^2] + "." + prefix.Split('.')[^1]))
        {
            string h = net.GroupNorm(x, prefix + ".norm1", config.NormNumGroups, inChannels, Eps, spatial, config.ActFn);
            h = net.Conv(h, prefix + ".conv1", inChannels, outChannels, 3);
            h = net.GroupNorm(h, prefix + ".norm2", config.NormNumGroups, outChannels, Eps, spatial, config.ActFn);
            h = net.Conv(h, prefix + ".conv2", outChannels, outChannels, 3);
            string shortcut = inChannels != outChannels ? net.Conv(x, prefix + ".conv_shortcut", inChannels, outChannels, 1) : x;
            return g.Node("Add", [shortcut, h]);
        }
    }

    /// <summary>UNetMidBlock2D: resnet, [attention, resnet].</summary>
    private static string MidBlock(NetBuilder net, VaeConfig config, string h, string prefix, int channels, string spatial)
    {
        using (net.G.Scope(prefix))
        {
            h = Resnet(net, config, h, prefix + ".resnets.0", channels, channels, spatial);
            if (config.MidBlockAttention)
            {
                h = Attention(net, config, h, prefix + ".attentions.0", channels, spatial);
            }
            return Resnet(net, config, h, prefix + ".resnets.1", channels, channels, spatial);
        }
    }

    /// <summary>The mid-block Attention (_from_deprecated_attn_block): GroupNorm, one head over all channels with biased
    /// q/k/v, to_out.0, residual. Accepts the old query/key/value/proj_attn names as diffusers renames them on load.</summary>
    private static string Attention(NetBuilder net, VaeConfig config, string x, string prefix, int channels, string spatial)
    {
        OnnxGraph g = net.G;
        using (g.Scope("attentions.0"))
        {
            bool old = !net.Has(prefix + ".to_q.weight") && net.Has(prefix + ".query.weight");
            string qName = old ? ".query" : ".to_q";
            string kName = old ? ".key" : ".to_k";
            string vName = old ? ".value" : ".to_v";
            string outName = old ? ".proj_attn" : ".to_out.0";
            string h = net.ToTokens(net.GroupNorm(x, prefix + ".group_norm", config.NormNumGroups, channels, Eps, spatial), channels);
            string q = net.Linear(h, prefix + qName, channels, channels);
            string k = net.Linear(h, prefix + kName, channels, channels);
            string v = net.Linear(h, prefix + vName, channels, channels);
            string a = net.Attention(q, k, v, 1, channels, causal: false, upcast: net.T == OnnxElementType.Float16);
            if (net.ChannelsLast)
            {
                string projected = g.Node("MatMul", [a, net.Weight(prefix + outName + ".weight", [channels, channels], transpose: true)]);
                return net.FromTokens(net.BiasAdd(projected, net.Bias(prefix + outName, channels), net.ToTokens(x, channels)), channels, spatial);
            }
            string o = net.Linear(a, prefix + outName, channels, channels);
            return g.Node("Add", [net.FromTokens(o, channels, spatial), x]);
        }
    }
}
