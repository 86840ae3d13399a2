using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// The two model evaluations of a KDPM2 solver step (diffusers' <c>state_in_first_order</c>, shared by
/// <see cref="KDPM2DiscreteScheduler"/> and <see cref="KDPM2AncestralDiscreteScheduler"/>): the first goes from σ to the
/// midpoint σ_mid along (x − x₀)/σ and keeps the sample; the second restarts from the kept sample and goes to the
/// target along the derivative at the midpoint. Buffers are kept between steps (nothing is allocated once warm).
/// </summary>
internal sealed class MidpointSteps
{
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _derivative;
    private float[]? _storedSample;
    private bool _hasStoredSample;

    /// <summary>Whether the next step is a first-order step.</summary>
    public bool InFirstOrder => !_hasStoredSample;

    /// <summary>The derivative of the last step (free scratch after it).</summary>
    public float[] Derivative => _derivative!;

    /// <summary>Forgets a pending first-order step (a new schedule).</summary>
    public void Reset() => _hasStoredSample = false;

    /// <summary>The x₀ buffer for a step on <paramref name="sample"/>, as the tensor the step returns.</summary>
    public Tensor<float> PredictedOriginal(Tensor<float> sample, out Span<float> x0)
    {
        Tensor<float> tensor = SchedulerBase.RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        x0 = _predOriginal;
        if (_derivative is null || _derivative.Length != _predOriginal!.Length)
        {
            _derivative = new float[_predOriginal!.Length];
        }
        return tensor;
    }

    /// <summary>The first evaluation: x ← x + (σ_mid − σ)·(x − x₀)/σ, keeping x.</summary>
    public void First(Span<float> x, ReadOnlySpan<float> x0, float sigma, float sigmaMid)
    {
        ElementwiseOps.DifferenceQuotient(x, x0, sigma, _derivative);
        float dt = sigmaMid - sigma;
        if (_storedSample is null || _storedSample.Length != x.Length)
        {
            _storedSample = new float[x.Length];
        }
        x.CopyTo(_storedSample);
        _hasStoredSample = true;
        ElementwiseOps.AddScaled(x, dt, _derivative, x);
    }

    /// <summary>The second evaluation: x ← x_kept + (σ_to − σ)·(x − x₀)/σ_mid.</summary>
    public void Second(Span<float> x, ReadOnlySpan<float> x0, float sigma, float sigmaMid, float sigmaTo, string className)
    {
        if (_storedSample is null || _storedSample.Length != x.Length)
        {
            throw new InvalidOperationException($"{className}: the second-order step needs the first-order step's sample of the same size.");
        }
        ElementwiseOps.DifferenceQuotient(x, x0, sigmaMid, _derivative);
        float dt = sigmaTo - sigma;
        _hasStoredSample = false;
        ElementwiseOps.AddScaled(_storedSample, dt, _derivative, x);
    }
}
