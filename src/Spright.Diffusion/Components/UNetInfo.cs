namespace Spright.Diffusion.Components;

/// <summary>Facts about a UNet that the pipeline needs (from its <c>config.json</c> and graph).</summary>
public sealed class UNetInfo
{
    /// <summary>Creates the facts.</summary>
    /// <param name="inChannels">Latent input channels (4 for SD).</param>
    /// <param name="sampleSize">The trained latent size (<c>sample_size</c>: 96 for SPRIGHT), or null when unknown.</param>
    /// <param name="crossAttentionDim">The text conditioning width (<c>cross_attention_dim</c>), or null when unknown.</param>
    /// <param name="downsamplingFactor">What latent sides must be multiples of (2^(levels−1) for exported graphs, whose
    /// upsamplers double fixed sizes), or null when any latent size works.</param>
    /// <param name="fixedSequenceLength">The one text sequence length the graph takes when it is fixed, or null.</param>
    public UNetInfo(int inChannels, int? sampleSize, int? crossAttentionDim, int? downsamplingFactor, int? fixedSequenceLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        InChannels = inChannels;
        SampleSize = sampleSize;
        CrossAttentionDim = crossAttentionDim;
        DownsamplingFactor = downsamplingFactor;
        FixedSequenceLength = fixedSequenceLength;
    }

    /// <summary>Latent input channels (4 for SD).</summary>
    public int InChannels { get; }

    /// <summary>The trained latent size (<c>sample_size</c>), or null when unknown.</summary>
    public int? SampleSize { get; }

    /// <summary>The text conditioning width (<c>cross_attention_dim</c>), or null when unknown.</summary>
    public int? CrossAttentionDim { get; }

    /// <summary>What latent sides must be multiples of, or null when any latent size works.</summary>
    public int? DownsamplingFactor { get; }

    /// <summary>The one text sequence length the graph takes when it is fixed (77 in some exports), or null when any
    /// length works (long weighted prompts need that).</summary>
    public int? FixedSequenceLength { get; }
}
