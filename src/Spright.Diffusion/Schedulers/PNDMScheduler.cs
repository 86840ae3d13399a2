using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Pseudo numerical methods for diffusion models (PNDM, Liu et al. 2022) following
/// <c>diffusers/schedulers/scheduling_pndm.py</c> (v0.31): with <c>skip_prk_steps</c> (Stable Diffusion's setting) the
/// PLMS linear multistep method from the first step; otherwise twelve Runge–Kutta (PRK) warm-up evaluations, then
/// PLMS. Epsilon and v-prediction; all arithmetic is float32 as in torch, and the multistep history is copied into
/// scheduler-owned buffers (the caller may reuse its tensors).
/// </summary>
public sealed class PNDMScheduler : SchedulerBase
{
    private const int PndmOrder = 4;

    private readonly float[] _alphasCumprod;
    private readonly float _finalAlphaCumprod;
    private readonly SolverHistory _ets = new();
    private float[] _prkTimesteps = [];
    private int _counter;
    private float[]? _curModelOutput;
    private bool _curModelOutputIsZero = true;
    private float[]? _curSample;
    private bool _hasCurSample;
    private float[]? _combined;

    /// <summary>Creates a PNDM scheduler, like <c>PNDMScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public PNDMScheduler(PNDMSchedulerOptions? options = null)
        : this(SchedulerSignatures.PNDM.Bind(options ?? new()), null)
    {
    }

    internal PNDMScheduler(BoundOptions<PNDMSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, logger)
    {
        Options = bound.Options;
        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, Options));
        _alphasCumprod = Tables.AlphasCumprod;
        _finalAlphaCumprod = Options.SetAlphaToOne ? 1f : _alphasCumprod[0];
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal PNDMSchedulerOptions Options { get; }

    /// <summary>The Runge–Kutta timesteps that start the schedule (empty with <c>skip_prk_steps</c>).</summary>
    internal ReadOnlySpan<float> PrkTimesteps => _prkTimesteps;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>PNDMScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static PNDMScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (PNDMScheduler)SchedulerRegistry.Create(nameof(PNDMScheduler), config, overrides, logger);

    private int NumTrainTimesteps => Options.NumTrainTimesteps;

    private bool SkipPrkSteps => Options.SkipPrkSteps;

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 4 steps without <c>skip_prk_steps</c> (the
    /// Runge–Kutta warm-up needs four timesteps).</exception>
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        if (!SkipPrkSteps && numInferenceSteps < PndmOrder)
        {
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps,
                $"PNDMScheduler without skip_prk_steps needs at least {PndmOrder} inference steps.");
        }
        NumInferenceSteps = numInferenceSteps;

        // The ascending base schedule (diffusers' self._timesteps).
        long[] ascending = SpacedTimesteps.Discrete(Options.TimestepSpacing, NumTrainTimesteps, numInferenceSteps, Options.StepsOffset);
        Array.Reverse(ascending);

        int m = ascending.Length;
        var all = new List<float>(m + 12);
        if (SkipPrkSteps)
        {
            _prkTimesteps = [];
            // concat(t[:-1], t[-2:-1], t[-1:])[::-1]: the second largest timestep is repeated.
            var plms = new List<long>(m + 1);
            plms.AddRange(ascending[..^1]);
            if (m >= 2)
            {
                plms.Add(ascending[m - 2]);
            }
            plms.Add(ascending[m - 1]);
            plms.Reverse();
            all.AddRange(plms.Select(v => (float)v));
        }
        else
        {
            long half = NumTrainTimesteps / numInferenceSteps / 2;
            var pairs = new long[2 * PndmOrder];
            for (int i = 0; i < PndmOrder; i++)
            {
                long v = ascending[m - PndmOrder + i];
                pairs[2 * i] = v;
                pairs[2 * i + 1] = v + half;
            }
            // prk[:-1].repeat(2)[1:-1][::-1]
            var repeated = new List<long>(14);
            for (int i = 0; i < pairs.Length - 1; i++)
            {
                repeated.Add(pairs[i]);
                repeated.Add(pairs[i]);
            }
            List<long> prk = repeated.GetRange(1, repeated.Count - 2);
            prk.Reverse();
            _prkTimesteps = prk.Select(v => (float)v).ToArray();
            all.AddRange(_prkTimesteps);
            for (int i = m - PndmOrder; i >= 0; i--)
            {
                all.Add(ascending[i]);
            }
        }
        TimestepValues = [.. all];
        ResetState();
    }

    private void ResetState()
    {
        _ets.Reset(PndmOrder);
        _counter = 0;
        _curModelOutputIsZero = true;
        _hasCurSample = false;
        StepIndex = null;
    }

    /// <inheritdoc />
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureStepsSet();
        int t = CheckIntegerTimestep(timestep, "PNDM");
        int n = checked((int)sample.FlattenedLength);
        if (_ets.Count > 0 && _ets.Length != n)
        {
            throw new InvalidOperationException($"{ClassName}: the sample size changed during a run; call SetTimesteps again.");
        }
        _ets.EnsureLength(n);
        Rent(ref _curModelOutput, n);
        Rent(ref _curSample, n);
        Rent(ref _combined, n);
        if (_counter < _prkTimesteps.Length && !SkipPrkSteps)
        {
            StepPrk(modelOutput.AsSpan(), t, sample.AsSpan());
        }
        else
        {
            StepPlms(modelOutput.AsSpan(), t, sample.AsSpan());
        }
        StepIndex = _counter;
        return new SchedulerOutput(sample, null);
    }

    // diffusers' step_prk: four evaluations per timestep, combined with weights 1/6, 1/3, 1/3, 1/6.
    private void StepPrk(ReadOnlySpan<float> modelOutput, int timestep, Span<float> sample)
    {
        int n = sample.Length;
        int diffToPrev = _counter % 2 != 0 ? 0 : NumTrainTimesteps / NumInferenceSteps / 2;
        int prevTimestep = timestep - diffToPrev;
        int groupTimestep = (int)_prkTimesteps[_counter / 4 * 4];
        Span<float> cur = Rent(ref _curModelOutput, n);
        ReadOnlySpan<float> effective = modelOutput;
        switch (_counter % 4)
        {
            case 0:
                Accumulate(cur, (float)(1.0 / 6.0), modelOutput);
                PushEt(modelOutput);
                sample.CopyTo(Rent(ref _curSample, n));
                _hasCurSample = true;
                break;
            case 1:
            case 2:
                Accumulate(cur, (float)(1.0 / 3.0), modelOutput);
                break;
            default:
                {
                    Span<float> combined = Rent(ref _combined, n);
                    if (_curModelOutputIsZero)
                    {
                        TensorPrimitives.Multiply(modelOutput, (float)(1.0 / 6.0), combined);
                    }
                    else
                    {
                        ElementwiseOps.AddScaled(cur, (float)(1.0 / 6.0), modelOutput, combined);
                    }
                    _curModelOutputIsZero = true;
                    effective = combined;
                    break;
                }
        }
        ReadOnlySpan<float> from = _hasCurSample ? _curSample : sample;
        PreviousSample(from, groupTimestep, prevTimestep, effective, sample);
        _counter++;
    }

    // diffusers' step_plms: Adams–Bashforth combinations of the last model outputs (ets).
    private void StepPlms(ReadOnlySpan<float> modelOutput, int timestep, Span<float> sample)
    {
        if (!SkipPrkSteps && _ets.Count < 3)
        {
            throw new InvalidOperationException($"{ClassName} can only run PLMS steps after at least 12 Runge–Kutta steps.");
        }
        int n = sample.Length;
        int ratio = NumTrainTimesteps / NumInferenceSteps;
        int prevTimestep = timestep - ratio;
        if (_counter != 1)
        {
            PushEt(modelOutput); // keeps the last four
        }
        else
        {
            prevTimestep = timestep;
            timestep += ratio;
        }

        ReadOnlySpan<float> effective;
        ReadOnlySpan<float> from = sample;
        Span<float> combined = Rent(ref _combined, n);
        int count = _ets.Count;
        if (count == 1 && _counter == 0)
        {
            effective = modelOutput;
            sample.CopyTo(Rent(ref _curSample, n));
            _hasCurSample = true;
        }
        else if (count == 1 && _counter == 1)
        {
            if (!_hasCurSample)
            {
                throw new InvalidOperationException($"{ClassName}: the second PLMS step needs the first step's sample.");
            }
            ElementwiseOps.Average(modelOutput, _ets[0], combined);
            effective = combined;
            from = _curSample;
            _hasCurSample = false;
        }
        else if (count == 2)
        {
            ElementwiseOps.Plms2(_ets[0], _ets[1], combined);
            effective = combined;
        }
        else if (count == 3)
        {
            ElementwiseOps.Plms3(_ets[0], _ets[1], _ets[2], combined);
            effective = combined;
        }
        else
        {
            ElementwiseOps.Plms4(_ets[0], _ets[1], _ets[2], _ets[3], combined);
            effective = combined;
        }
        PreviousSample(from, timestep, prevTimestep, effective, sample);
        _counter++;
    }

    private void Accumulate(Span<float> cur, float weight, ReadOnlySpan<float> modelOutput)
    {
        if (_curModelOutputIsZero)
        {
            // Python's 0 + tensor.
            TensorPrimitives.Multiply(modelOutput, weight, cur);
            TensorPrimitives.Add(cur, 0f, cur);
            _curModelOutputIsZero = false;
        }
        else
        {
            ElementwiseOps.AddScaled(cur, weight, modelOutput, cur);
        }
    }

    private void PushEt(ReadOnlySpan<float> modelOutput)
    {
        modelOutput.CopyTo(_ets.Pending);
        _ets.Push();
    }

    // Formula (9) of the PNDM paper (diffusers' _get_prev_sample), written to `destination` (may alias `sample`).
    private void PreviousSample(ReadOnlySpan<float> sample, int timestep, int prevTimestep, ReadOnlySpan<float> modelOutput, Span<float> destination)
    {
        if (timestep < 0 || timestep >= NumTrainTimesteps || prevTimestep >= NumTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"PNDM timesteps must be in [0, {NumTrainTimesteps - 1}].");
        }
        float alphaProdT = _alphasCumprod[timestep];
        float alphaProdTPrev = prevTimestep >= 0 ? _alphasCumprod[prevTimestep] : _finalAlphaCumprod;
        float betaProdT = 1f - alphaProdT;
        float betaProdTPrev = 1f - alphaProdTPrev;

        if (Options.PredictionType == PredictionType.VPrediction)
        {
            Span<float> eps = Rent(ref _combined, sample.Length);
            ElementwiseOps.LinearCombination(MathF.Sqrt(alphaProdT), modelOutput, MathF.Sqrt(betaProdT), sample, eps);
            modelOutput = eps;
        }

        float sampleCoeff = MathF.Sqrt(alphaProdTPrev / alphaProdT);
        float denominator = alphaProdT * MathF.Sqrt(betaProdTPrev) + MathF.Sqrt(alphaProdT * betaProdT * alphaProdTPrev);
        ElementwiseOps.ScaledMinusScaledQuotient(sampleCoeff, sample, alphaProdTPrev - alphaProdT, modelOutput, denominator, destination);
    }

    /// <inheritdoc />
    private protected override void AddNoiseCore(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination) =>
        VpSolverMath.AddNoise(_alphasCumprod[CheckTrainingTimestep(timestep, NumTrainTimesteps)], originalSamples, noise, destination);
}
