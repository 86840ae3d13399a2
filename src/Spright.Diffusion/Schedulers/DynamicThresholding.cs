namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Imagen's dynamic thresholding (diffusers' <c>_threshold_sample</c>): per batch item, s = the
/// <c>dynamic_thresholding_ratio</c> quantile of |x₀| (torch.quantile, linear interpolation), clamped to
/// [1, <c>sample_max_value</c>]; then x₀ ← clamp(x₀, −s, s) / s.
/// </summary>
internal static class DynamicThresholding
{
    /// <summary>Applies the threshold in place to <paramref name="x0"/>, whose first dimension is the batch.</summary>
    public static void Apply(Span<float> x0, int batchSize, float ratio, float sampleMaxValue)
    {
        if (batchSize <= 0 || x0.Length % batchSize != 0)
        {
            throw new ArgumentException($"Cannot split {x0.Length} elements into {batchSize} batch items.", nameof(batchSize));
        }
        int n = x0.Length / batchSize;
        float[] sorted = new float[n];
        for (int b = 0; b < batchSize; b++)
        {
            Span<float> row = x0.Slice(b * n, n);
            for (int i = 0; i < n; i++)
            {
                sorted[i] = MathF.Abs(row[i]);
            }
            Array.Sort(sorted);
            float s = Quantile(sorted, ratio);
            s = Math.Clamp(s, 1f, sampleMaxValue);
            for (int i = 0; i < n; i++)
            {
                row[i] = Math.Clamp(row[i], -s, s) / s;
            }
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
