using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// What LMS, KDPM2 and KDPM2 ancestral share (diffusers' <c>scheduling_lms_discrete.py</c>,
/// <c>scheduling_k_dpm_2_discrete.py</c>, <c>scheduling_k_dpm_2_ancestral_discrete.py</c>): the same options, a schedule
/// set for every training timestep at construction, and the schedule itself: σ interpolated at the spaced timesteps,
/// optionally respaced, with a final σ = 0; each class then derives its own arrays from it.
/// </summary>
public abstract class KDiffusionSchedulerBase : SigmaSchedulerBase
{
    private readonly SigmaSpacing _sigmaSpacing;

    private protected KDiffusionSchedulerBase(SchedulerConfig config, KDiffusionSchedulerOptions options, ILogger? logger)
        : base(config, options, logger)
    {
        _sigmaSpacing = options.SigmaSpacing;
        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, options));
    }

    /// <summary>Whether the respaced schedule takes <c>sigma_min</c> / <c>sigma_max</c> from the configuration (which
    /// holds them only when another class's configuration carried them), for <paramref name="spacing"/>.</summary>
    private protected abstract bool ReadsConfigSigmaRange(SigmaSpacing spacing);

    /// <summary>Whether the timesteps of Karras sigmas are rounded (KDPM2 and KDPM2 ancestral).</summary>
    private protected abstract bool RoundsKarrasTimesteps { get; }

    /// <summary>Installs the class's arrays for a new schedule.</summary>
    /// <param name="sigmas">σ of the steps followed by the final 0 (float32).</param>
    /// <param name="timesteps">The steps' timesteps (float64 as diffusers computes them).</param>
    private protected abstract void Install(float[] sigmas, double[] timesteps);

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        float[] spaced = SpacedTimestepsFor(numInferenceSteps);
        bool readConfig = ReadsConfigSigmaRange(_sigmaSpacing);
        SigmaScheduleParts parts = Respace(InterpolateSigmas(spaced), false, Array.ConvertAll(spaced, x => (double)x), _sigmaSpacing, numInferenceSteps,
            readConfig ? ConfigNumber("sigma_min") : null, readConfig ? ConfigNumber("sigma_max") : null, RoundsKarrasTimesteps);

        var sigmas = new float[parts.Sigmas.Length + 1];
        for (int i = 0; i < parts.Sigmas.Length; i++)
        {
            sigmas[i] = (float)parts.Sigmas[i];
        }
        Install(sigmas, parts.Timesteps);
    }

    /// <summary>KDPM2's interleaved timesteps: t₀, then for each later step the timestep of its midpoint σ
    /// (<paramref name="interpol"/>[i − <paramref name="lag"/>], by <c>_sigma_to_t</c> on a torch tensor) and its own.</summary>
    private protected float[] InterleavedTimesteps(float[] t, float[] interpol, int lag)
    {
        var timesteps = new float[1 + 2 * (t.Length - 1)];
        timesteps[0] = t[0];
        for (int i = 1; i < t.Length; i++)
        {
            timesteps[2 * i - 1] = (float)SigmaScheduleMath.SigmaToT(interpol[i - lag], torchBlend: true, LogTrainSigmas);
            timesteps[2 * i] = t[i];
        }
        return timesteps;
    }
}
