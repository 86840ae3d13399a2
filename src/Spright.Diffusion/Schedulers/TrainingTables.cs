using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// ᾱ per training timestep and what the schedules derive from it, in diffusers' dtypes: σ = ((1 − ᾱ)/ᾱ)^½ as a float32
/// tensor, <c>log_sigmas</c> = numpy's float32 <c>np.log(σ)</c>, and λ = log √ᾱ − log √(1 − ᾱ) with torch's log.
/// The derived tables are computed on first use.
/// </summary>
internal sealed class TrainingTables
{
    private float[]? _sigmas;
    private float[]? _logSigmas;
    private float[]? _lambdas;

    /// <summary>Wraps ᾱ (not copied; not to be changed afterwards).</summary>
    public TrainingTables(float[] alphasCumprod) => AlphasCumprod = alphasCumprod;

    /// <summary>ᾱ per training timestep.</summary>
    public float[] AlphasCumprod { get; }

    /// <summary>σ per training timestep (ascending).</summary>
    public float[] Sigmas => _sigmas ??= SigmaScheduleMath.TrainingSigmas(AlphasCumprod);

    /// <summary>log σ per training timestep (numpy float32).</summary>
    public float[] LogSigmas => _logSigmas ??= SigmaScheduleMath.LogF(Sigmas);

    /// <summary>λ per training timestep (torch float32).</summary>
    public float[] Lambdas => _lambdas ??= VpSolverMath.LambdaTable(AlphasCumprod);

    /// <summary><c>np.interp(t, arange(T), σ)</c> for integer timesteps (a table value, clamped at the ends).</summary>
    public double[] SigmasAt(ReadOnlySpan<long> timesteps)
    {
        var sigmas = new double[timesteps.Length];
        for (int i = 0; i < sigmas.Length; i++)
        {
            sigmas[i] = SigmaScheduleMath.Interp(timesteps[i], Sigmas);
        }
        return sigmas;
    }

    /// <summary>The rounded training timesteps of <paramref name="sigmas"/>: <c>np.round(_sigma_to_t(σ))</c>.</summary>
    public long[] RoundedTimestepsOf(ReadOnlySpan<double> sigmas)
    {
        var timesteps = new long[sigmas.Length];
        for (int i = 0; i < timesteps.Length; i++)
        {
            timesteps[i] = (long)NumpyOps.Round(SigmaScheduleMath.SigmaToT(sigmas[i], torchBlend: false, LogSigmas));
        }
        return timesteps;
    }
}
