using System.Numerics;
using System.Runtime.InteropServices;

namespace Spright.Diffusion.Pipelines;

/// <summary>
/// Classifier-free guidance arithmetic with torch's float32 rounding (diffusers'
/// <c>pipeline_stable_diffusion.py</c>: <c>uncond + g·(text − uncond)</c> and <c>rescale_noise_cfg</c>).
/// </summary>
internal static class Guidance
{
    /// <summary><c>destination = uncond + scale·(text − uncond)</c>, three separately rounded float32 operations.</summary>
    public static void Combine(ReadOnlySpan<float> uncond, ReadOnlySpan<float> text, float scale, Span<float> destination)
    {
        if (uncond.Length != text.Length || destination.Length != text.Length)
        {
            throw new ArgumentException("Guidance operands must have equal lengths.");
        }
        int i = 0;
        if (Vector.IsHardwareAccelerated && text.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vu = MemoryMarshal.Cast<float, Vector<float>>(uncond);
            ReadOnlySpan<Vector<float>> vt = MemoryMarshal.Cast<float, Vector<float>>(text);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(destination);
            var vs = new Vector<float>(scale);
            for (int v = 0; v < vd.Length; v++)
            {
                Vector<float> diff = vt[v] - vu[v];
                Vector<float> scaled = vs * diff;
                vd[v] = vu[v] + scaled;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < destination.Length; i++)
        {
            float diff = text[i] - uncond[i];
            float scaled = scale * diff;
            destination[i] = uncond[i] + scaled;
        }
    }

    /// <summary>
    /// diffusers' <c>rescale_noise_cfg</c> in place on <paramref name="noiseCfg"/>: per batch item, scale the guided
    /// prediction to the standard deviation of the text prediction, then blend with weight <paramref name="guidanceRescale"/>.
    /// </summary>
    public static void Rescale(Span<float> noiseCfg, ReadOnlySpan<float> noiseText, int batchSize, double guidanceRescale)
    {
        int per = noiseCfg.Length / batchSize;
        float rescale = (float)guidanceRescale;
        float keep = (float)(1.0 - guidanceRescale);
        for (int b = 0; b < batchSize; b++)
        {
            Span<float> cfg = noiseCfg.Slice(b * per, per);
            float stdText = StandardDeviation(noiseText.Slice(b * per, per));
            float stdCfg = StandardDeviation(cfg);
            float factor = stdText / stdCfg;
            for (int i = 0; i < cfg.Length; i++)
            {
                float rescaled = cfg[i] * factor;
                float a = rescale * rescaled;
                float k = keep * cfg[i];
                cfg[i] = a + k;
            }
        }
    }

    /// <summary>Unbiased standard deviation accumulated in double (torch's CPU reduction accumulates float in double).</summary>
    internal static float StandardDeviation(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (float v in values)
        {
            sum += v;
        }
        double mean = sum / values.Length;
        double squares = 0;
        foreach (float v in values)
        {
            double d = v - mean;
            squares += d * d;
        }
        return (float)Math.Sqrt(squares / (values.Length - 1));
    }
}
