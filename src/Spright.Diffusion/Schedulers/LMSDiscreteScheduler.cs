using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Linear multistep scheduler following <c>diffusers/schedulers/scheduling_lms_discrete.py</c> (v0.31): the update
/// combines the last (up to 4) ODE derivatives with coefficients ∫ of the Lagrange basis polynomials over
/// [σᵢ, σᵢ₊₁], integrated like <c>scipy.integrate.quad</c> (QUADPACK's 21-point Gauss–Kronrod rule, which is exact
/// for these polynomials) with the integrand evaluated in float32 as diffusers' torch scalars do.
/// </summary>
public sealed class LMSDiscreteScheduler : KDiffusionSchedulerBase
{
    /// <summary>The default (and largest useful) order of the multistep method.</summary>
    internal const int DefaultOrder = 4;

    private readonly List<float[]> _derivatives = new(DefaultOrder + 1);
    private readonly Stack<float[]> _spare = new(DefaultOrder + 1);
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _accumulator;

    /// <summary>Creates an LMS scheduler, like <c>LMSDiscreteScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public LMSDiscreteScheduler(LMSDiscreteSchedulerOptions? options = null)
        : this(SchedulerSignatures.LMS.Bind(options ?? new()), null)
    {
    }

    internal LMSDiscreteScheduler(BoundOptions<LMSDiscreteSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, logger)
    {
        Options = bound.Options;
        SetTimesteps(Options.NumTrainTimesteps);
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal LMSDiscreteSchedulerOptions Options { get; }

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>LMSDiscreteScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static LMSDiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (LMSDiscreteScheduler)SchedulerRegistry.Create(nameof(LMSDiscreteScheduler), config, overrides, logger);

    // LMS's Karras conversion ignores config.sigma_min/max; the exponential and beta ones read them.
    private protected override bool ReadsConfigSigmaRange(SigmaSpacing spacing) => spacing is SigmaSpacing.Exponential or SigmaSpacing.Beta;

    private protected override bool RoundsKarrasTimesteps => false;

    private protected override void Install(float[] sigmas, double[] timesteps)
    {
        ClearDerivatives();
        InstallSchedule(sigmas, ToFloat(timesteps));
    }

    /// <summary>diffusers' <c>get_lms_coefficient(order, t, current_order)</c>: ∫ over [σₜ, σₜ₊₁] of the Lagrange basis
    /// polynomial of node σₜ₋cᵤᵣᵣₑₙₜ among σₜ, …, σₜ₋ₒᵣ𝒹ₑᵣ₊₁.</summary>
    /// <param name="order">The number of nodes.</param>
    /// <param name="t">The step index.</param>
    /// <param name="currentOrder">Which node's basis polynomial.</param>
    /// <returns>The coefficient (float64, as scipy returns it).</returns>
    internal double LmsCoefficient(int order, int t, int currentOrder)
    {
        if (order < 1 || currentOrder < 0 || currentOrder >= order || t - (order - 1) < 0 || t + 1 >= SigmaValues.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(order), $"Invalid LMS coefficient request (order {order}, t {t}, current order {currentOrder}).");
        }
        var basis = new LagrangeBasis(SigmaValues, order, t, currentOrder);
        return GaussKronrod21.Integrate(ref basis, SigmaValues[t], SigmaValues[t + 1], out _);
    }

    // The integrand as diffusers evaluates it: a Python float τ against float32 torch scalars, so every
    // subtraction, division and product is a float32 operation (τ rounded to float32 first); order 1 stays the
    // Python float 1.0.
    private readonly struct LagrangeBasis(float[] sigmas, int order, int t, int currentOrder) : GaussKronrod21.IIntegrand
    {
        public double Evaluate(double tau)
        {
            if (order == 1)
            {
                return 1.0;
            }
            float tauF = (float)tau;
            float prod = 1f;
            for (int k = 0; k < order; k++)
            {
                if (k == currentOrder)
                {
                    continue;
                }
                float numerator = tauF - sigmas[t - k];
                float denominator = sigmas[t - currentOrder] - sigmas[t - k];
                float factor = numerator / denominator;
                prod *= factor;
            }
            return prod;
        }
    }

    /// <inheritdoc />
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator) =>
        Step(modelOutput, timestep, sample, DefaultOrder);

    /// <summary>One LMS step of the given order (diffusers' <c>step(..., order=4)</c>).</summary>
    /// <param name="modelOutput">The model output.</param>
    /// <param name="timestep">The current timestep (a value of <see cref="IScheduler.Timesteps"/>).</param>
    /// <param name="sample">The current latents; updated in place.</param>
    /// <param name="order">The multistep order (at least 1; the first steps use fewer derivatives).</param>
    /// <returns>The previous sample and the predicted x₀.</returns>
    public SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, int order)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureTimestepsSet();
        ArgumentOutOfRangeException.ThrowIfLessThan(order, 1);
        if (StepIndex is null)
        {
            InitStepIndex(timestep);
        }
        int index = StepIndex!.Value;
        CheckStepInRange(index, 2);

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        Tensor<float> predOriginalTensor = RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        Span<float> x0 = _predOriginal;
        float sigma = SigmaValues[index];
        PredictOriginalSample(Options.PredictionType, modelOutput.AsSpan(), x, sigma, x0);

        // derivatives.append((x − x₀)/σ), keeping at most `order` of them.
        if (_derivatives.Count > 0 && _derivatives[0].Length != n)
        {
            ClearDerivatives();
        }
        // All order + 1 buffers at once, so that later steps allocate nothing.
        if (_spare.Count > 0 && _spare.Peek().Length != n)
        {
            _spare.Clear();
        }
        while (_derivatives.Count + _spare.Count < order + 1)
        {
            _spare.Push(new float[n]);
        }
        float[] derivative = _spare.Pop();
        ElementwiseOps.DifferenceQuotient(x, x0, sigma, derivative);
        _derivatives.Add(derivative);
        if (_derivatives.Count > order)
        {
            _spare.Push(_derivatives[0]);
            _derivatives.RemoveAt(0);
        }

        int effectiveOrder = Math.Min(index + 1, order);
        int terms = Math.Min(effectiveOrder, _derivatives.Count);
        // sum(coeff·derivative for coeff, derivative in zip(coeffs, reversed(derivatives))), starting from the newest.
        Span<float> acc = Rent(ref _accumulator, n);
        for (int k = 0; k < terms; k++)
        {
            float coeff = (float)LmsCoefficient(effectiveOrder, index, k);
            float[] d = _derivatives[_derivatives.Count - 1 - k];
            if (k == 0)
            {
                TensorPrimitives.Multiply(d, coeff, acc);
            }
            else
            {
                ElementwiseOps.AddScaled(acc, coeff, d, acc);
            }
        }
        if (terms > 0)
        {
            TensorPrimitives.Add(x, acc, x);
        }

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }

    private void ClearDerivatives()
    {
        foreach (float[] d in _derivatives)
        {
            _spare.Push(d);
        }
        _derivatives.Clear();
    }
}

/// <summary>
/// The first pass of QUADPACK's <c>dqagse</c> as <c>scipy.integrate.quad</c> runs it: the 21-point Gauss–Kronrod
/// rule (<c>dqk21</c>), with its abscissae, weights and summation order. For the LMS polynomials (degree ≤ 3) this
/// pass already meets quad's tolerance, so its result is what scipy returns.
/// </summary>
internal static class GaussKronrod21
{
    // Abscissae of the 21-point Kronrod rule: odd indices (1-based even) are the 10-point Gauss nodes.
    private static readonly double[] Xgk =
    [
        0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
        0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
        0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
        0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
        0.294392862701460198131126603103866, 0.148874338981631210884826001129720,
        0.0,
    ];

    private static readonly double[] Wgk =
    [
        0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
        0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
        0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
        0.123491976262065851077958109831074, 0.134709217311473325928054001771707,
        0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
        0.149445554002916905664936468389821,
    ];

    private static readonly double[] Wg =
    [
        0.066671344308688137593568809893332, 0.149451349150580593145776339657697,
        0.219086362515982043995534934228163, 0.269266719309996355091226921569469,
        0.295524224714752870173892994651338,
    ];

    /// <summary>A function to integrate.</summary>
    public interface IIntegrand
    {
        /// <summary>f(x).</summary>
        double Evaluate(double x);
    }

    private readonly struct DelegateIntegrand(Func<double, double> f) : IIntegrand
    {
        public double Evaluate(double x) => f(x);
    }

    /// <summary>∫ₐᵇ f with the 21-point Kronrod rule and QUADPACK's error estimate.</summary>
    public static double Integrate(Func<double, double> f, double a, double b, out double abserr)
    {
        var integrand = new DelegateIntegrand(f);
        return Integrate(ref integrand, a, b, out abserr);
    }

    /// <summary>∫ₐᵇ f with the 21-point Kronrod rule (summed in <c>dqk21</c>'s order) and QUADPACK's error estimate.</summary>
    public static double Integrate<TIntegrand>(ref TIntegrand f, double a, double b, out double abserr)
        where TIntegrand : struct, IIntegrand
    {
        double centr = 0.5 * (a + b);
        double hlgth = 0.5 * (b - a);
        double dhlgth = Math.Abs(hlgth);
        Span<double> fv1 = stackalloc double[10];
        Span<double> fv2 = stackalloc double[10];

        double resg = 0;
        double fc = f.Evaluate(centr);
        double resk = Wgk[10] * fc;
        double resabs = Math.Abs(resk);
        for (int j = 1; j <= 5; j++)
        {
            int jtw = 2 * j - 1; // 0-based index of Fortran's 2j
            double absc = hlgth * Xgk[jtw];
            double fval1 = f.Evaluate(centr - absc);
            double fval2 = f.Evaluate(centr + absc);
            fv1[jtw] = fval1;
            fv2[jtw] = fval2;
            double fsum = fval1 + fval2;
            resg += Wg[j - 1] * fsum;
            resk += Wgk[jtw] * fsum;
            resabs += Wgk[jtw] * (Math.Abs(fval1) + Math.Abs(fval2));
        }
        for (int j = 1; j <= 5; j++)
        {
            int jtwm1 = 2 * j - 2; // 0-based index of Fortran's 2j − 1
            double absc = hlgth * Xgk[jtwm1];
            double fval1 = f.Evaluate(centr - absc);
            double fval2 = f.Evaluate(centr + absc);
            fv1[jtwm1] = fval1;
            fv2[jtwm1] = fval2;
            double fsum = fval1 + fval2;
            resk += Wgk[jtwm1] * fsum;
            resabs += Wgk[jtwm1] * (Math.Abs(fval1) + Math.Abs(fval2));
        }
        double reskh = resk * 0.5;
        double resasc = Wgk[10] * Math.Abs(fc - reskh);
        for (int j = 0; j < 10; j++)
        {
            resasc += Wgk[j] * (Math.Abs(fv1[j] - reskh) + Math.Abs(fv2[j] - reskh));
        }
        double result = resk * hlgth;
        resabs *= dhlgth;
        resasc *= dhlgth;
        abserr = Math.Abs((resk - resg) * hlgth);
        if (resasc != 0 && abserr != 0)
        {
            abserr = resasc * Math.Min(1, Math.Pow(200 * abserr / resasc, 1.5));
        }
        const double Epmach = 2.220446049250313e-16;
        const double Uflow = 2.2250738585072014e-308;
        if (resabs > Uflow / (50 * Epmach))
        {
            abserr = Math.Max(Epmach * 50 * resabs, abserr);
        }
        return result;
    }
}
