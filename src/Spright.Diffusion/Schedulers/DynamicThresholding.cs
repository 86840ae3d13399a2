using System.Numerics.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Imagen's dynamic thresholding (diffusers' <c>_threshold_sample</c>): per batch item, s = the
/// <c>dynamic_thresholding_ratio</c> quantile of |x₀| (torch.quantile, linear interpolation), clamped to
/// [1, <c>sample_max_value</c>]; then x₀ ← clamp(x₀, −s, s) / s.
/// </summary>
internal static class DynamicThresholding
{
    /// <summary>Applies the threshold in place to <paramref name="x0"/>, whose first dimension is the batch;
    /// <paramref name="scratch"/> holds at least one batch item.</summary>
    public static void Apply(Span<float> x0, int batchSize, float ratio, float sampleMaxValue, Span<float> scratch)
    {
        if (batchSize <= 0 || x0.Length % batchSize != 0)
        {
            throw new ArgumentException($"Cannot split {x0.Length} elements into {batchSize} batch items.", nameof(batchSize));
        }
        int n = x0.Length / batchSize;
        Span<float> sorted = scratch[..n];
        for (int b = 0; b < batchSize; b++)
        {
            Span<float> row = x0.Slice(b * n, n);
            for (int i = 0; i < n; i++)
            {
                sorted[i] = MathF.Abs(row[i]);
            }
            sorted.Sort();
            float s = Quantile(sorted, ratio);
            s = Math.Clamp(s, 1f, sampleMaxValue);
            for (int i = 0; i < n; i++)
            {
                row[i] = Math.Clamp(row[i], -s, s) / s;
            }
        }
    }

    /// <summary>x₀ as DDIM, DDPM and LCM finish it: dynamically thresholded when <c>thresholding</c> is on, else clipped to
    /// ±<c>clip_sample_range</c> when <c>clip_sample</c> is on.</summary>
    public static void ClipOrThreshold(DenoisingSchedulerOptions options, Span<float> x0, Tensor<float> sample, ref float[]? sortScratch)
    {
        if (options.Thresholding)
        {
            int batch = (int)sample.Lengths[0];
            Apply(x0, batch, (float)options.DynamicThresholdingRatio, (float)options.SampleMaxValue, SchedulerBase.Rent(ref sortScratch, x0.Length / Math.Max(batch, 1)));
        }
        else if (options.ClipSample)
        {
            float r = (float)options.ClipSampleRange;
            TensorPrimitives.Clamp(x0, -r, r, x0);
        }
    }

    /// <summary>torch.quantile's linear interpolation on sorted values (float32 rank, lerp as torch's CPU kernel).</summary>
    internal static float Quantile(ReadOnlySpan<float> sorted, float q)
    {
        float rank = q * (float)(sorted.Length - 1);
        long below = (long)rank;
        long above = (long)MathF.Ceiling(rank);
        float weight = rank - below;
        float start = sorted[(int)below];
        float end = sorted[(int)above];
        return MathF.Abs(weight) < 0.5f
            ? MathF.FusedMultiplyAdd(weight, end - start, start)
            : end - (end - start) * (1f - weight);
    }
}

/// <summary>Dynamic-thresholding settings plus the scratch they need, passed into the model-output conversions.</summary>
internal readonly ref struct ThresholdSettings
{
    private readonly Span<float> _sortScratch;

    /// <summary>Creates settings; <paramref name="enabled"/> false turns every call into a no-op.</summary>
    public ThresholdSettings(bool enabled, int batchSize, float ratio, float sampleMaxValue, Span<float> sortScratch, Span<float> workspace)
    {
        Enabled = enabled;
        BatchSize = batchSize;
        Ratio = ratio;
        SampleMaxValue = sampleMaxValue;
        _sortScratch = sortScratch;
        Workspace = workspace;
    }

    /// <summary>Whether thresholding is on.</summary>
    public bool Enabled { get; }

    /// <summary>The batch size (first dimension).</summary>
    public int BatchSize { get; }

    /// <summary><c>dynamic_thresholding_ratio</c>.</summary>
    public float Ratio { get; }

    /// <summary><c>sample_max_value</c>.</summary>
    public float SampleMaxValue { get; }

    /// <summary>A sample-sized buffer for conversions that threshold an intermediate x₀.</summary>
    public Span<float> Workspace { get; }

    /// <summary>Thresholds <paramref name="x0"/> in place.</summary>
    public void Apply(Span<float> x0) => DynamicThresholding.Apply(x0, BatchSize, Ratio, SampleMaxValue, _sortScratch);
}
