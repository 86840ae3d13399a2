using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// The pieces DPM-Solver multistep and singlestep share (diffusers v0.31 <c>scheduling_dpmsolver_multistep.py</c>,
/// <c>scheduling_dpmsolver_singlestep.py</c>): the model-output conversion and the first-order (DDIM-equivalent)
/// update, with the scalar coefficients computed as torch 0-dim float32 tensors.
/// </summary>
internal static class DpmSolverUpdates
{
    /// <summary>Whether the algorithm integrates the data prediction (DPM-Solver++) rather than the noise.</summary>
    public static bool IsDataPrediction(AlgorithmType algorithmType) => algorithmType is AlgorithmType.DpmSolverPlusPlus or AlgorithmType.SdeDpmSolverPlusPlus;

    /// <summary>Whether the model output carries a learned variance whose first three channels are the mean.</summary>
    public static bool HasLearnedVariance(VarianceType? varianceType) => varianceType is VarianceType.Learned or VarianceType.LearnedRange;

    /// <summary>
    /// <c>convert_model_output</c>: x₀ for DPM-Solver++ (thresholded when enabled), ε for DPM-Solver, written to
    /// <paramref name="destination"/>.
    /// </summary>
    public static void ConvertModelOutput(AlgorithmType algorithmType, PredictionType predictionType, float sigma, ReadOnlySpan<float> modelOutput,
        ReadOnlySpan<float> sample, Span<float> destination, in ThresholdSettings threshold)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(sigma);
        if (IsDataPrediction(algorithmType))
        {
            VpSolverMath.PredictOriginalSample(predictionType, alphaT, sigmaT, modelOutput, sample, destination);
            if (threshold.Enabled)
            {
                threshold.Apply(destination);
            }
            return;
        }

        VpSolverMath.PredictEpsilon(predictionType, alphaT, sigmaT, modelOutput, sample, destination);
        if (threshold.Enabled)
        {
            // ε → x₀, threshold, → ε again.
            Span<float> x0 = threshold.Workspace;
            ElementwiseOps.SubtractScaledThenDivide(sample, sigmaT, destination, alphaT, x0);
            threshold.Apply(x0);
            ElementwiseOps.SubtractScaledThenDivide(sample, alphaT, x0, sigmaT, destination);
        }
    }

    /// <summary><c>dpm_solver_first_order_update</c> from σ_s to σ_t; <paramref name="noise"/> is used by the SDE variants.</summary>
    public static void FirstOrder(AlgorithmType algorithmType, float sigmaTo, float sigmaFrom, ReadOnlySpan<float> modelOutput,
        ReadOnlySpan<float> sample, ReadOnlySpan<float> noise, Span<float> destination)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(sigmaTo);
        (float alphaS, float sigmaS) = VpSolverMath.AlphaSigma(sigmaFrom);
        float lambdaT = VpSolverMath.Lambda(alphaT, sigmaT);
        float lambdaS = VpSolverMath.Lambda(alphaS, sigmaS);
        float h = lambdaT - lambdaS;
        switch (algorithmType)
        {
            case AlgorithmType.DpmSolverPlusPlus:
                {
                    float a = sigmaT / sigmaS;
                    float b = alphaT * (SleefFloat.Exp(-h) - 1f);
                    ElementwiseOps.LinearCombination(a, sample, -b, modelOutput, destination);
                    break;
                }
            case AlgorithmType.DpmSolver:
                {
                    float a = alphaT / alphaS;
                    float b = sigmaT * (SleefFloat.Exp(h) - 1f);
                    ElementwiseOps.LinearCombination(a, sample, -b, modelOutput, destination);
                    break;
                }
            case AlgorithmType.SdeDpmSolverPlusPlus:
                {
                    float e2 = SleefFloat.Exp(-2f * h);
                    float a = sigmaT / sigmaS * SleefFloat.Exp(-h);
                    float b = alphaT * (1f - e2);
                    float c = sigmaT * MathF.Sqrt(1f - e2);
                    ElementwiseOps.LinearCombination(a, sample, b, modelOutput, c, noise, destination);
                    break;
                }
            default: // sde-dpmsolver
                {
                    float a = alphaT / alphaS;
                    float b = 2f * (sigmaT * (SleefFloat.Exp(h) - 1f));
                    float c = sigmaT * MathF.Sqrt(SleefFloat.Exp(2f * h) - 1f);
                    ElementwiseOps.LinearCombination(a, sample, -b, modelOutput, c, noise, destination);
                    break;
                }
        }
    }

    /// <summary>
    /// The combination that ends diffusers' second-order updates, from a base sample at (α_b, σ_b) and its converted
    /// model output m_b, with D₁ the scaled difference of the last two outputs and h = λ_t − λ_b: DPM-Solver++
    /// x_t = (σ_t/σ_b)·x_b − α_t(e^(−h) − 1)·m_b + c·D₁, DPM-Solver x_t = (α_t/α_b)·x_b − σ_t(eʰ − 1)·m_b − c·D₁, and the
    /// SDE variants plus <paramref name="noise"/>. The multistep update starts from the current sample, the singlestep one
    /// from its segment's start (<c>multistep_/singlestep_dpm_solver_second_order_update</c>).
    /// </summary>
    public static void SecondOrder(AlgorithmType algorithmType, bool midpoint, float alphaT, float sigmaT, float alphaB, float sigmaB, float h,
        ReadOnlySpan<float> baseSample, ReadOnlySpan<float> baseOutput, ReadOnlySpan<float> d1, ReadOnlySpan<float> noise, Span<float> destination)
    {
        switch (algorithmType)
        {
            case AlgorithmType.DpmSolverPlusPlus:
                {
                    float a = sigmaT / sigmaB;
                    float b = alphaT * (SleefFloat.Exp(-h) - 1f);
                    float c = midpoint ? -(0.5f * b) : alphaT * ((SleefFloat.Exp(-h) - 1f) / h + 1f);
                    ElementwiseOps.LinearCombination(a, baseSample, -b, baseOutput, c, d1, destination);
                    break;
                }
            case AlgorithmType.DpmSolver:
                {
                    float a = alphaT / alphaB;
                    float b = sigmaT * (SleefFloat.Exp(h) - 1f);
                    float c = midpoint ? 0.5f * b : sigmaT * ((SleefFloat.Exp(h) - 1f) / h - 1f);
                    ElementwiseOps.LinearCombination(a, baseSample, -b, baseOutput, -c, d1, destination);
                    break;
                }
            case AlgorithmType.SdeDpmSolverPlusPlus:
                {
                    float e2 = SleefFloat.Exp(-2f * h);
                    float a = sigmaT / sigmaB * SleefFloat.Exp(-h);
                    float b = alphaT * (1f - e2);
                    float c = midpoint ? 0.5f * b : alphaT * ((1f - e2) / (-2f * h) + 1f);
                    float d = sigmaT * MathF.Sqrt(1f - e2);
                    ElementwiseOps.LinearCombination(a, baseSample, b, baseOutput, c, d1, d, noise, destination);
                    break;
                }
            default: // sde-dpmsolver (multistep only)
                {
                    float a = alphaT / alphaB;
                    float e = sigmaT * (SleefFloat.Exp(h) - 1f);
                    float b = 2f * e;
                    float c = midpoint ? e : 2f * (sigmaT * ((SleefFloat.Exp(h) - 1f) / h - 1f));
                    float d = sigmaT * MathF.Sqrt(SleefFloat.Exp(2f * h) - 1f);
                    ElementwiseOps.LinearCombination(a, baseSample, -b, baseOutput, -c, d1, d, noise, destination);
                    break;
                }
        }
    }

    /// <summary>
    /// The combination that ends diffusers' third-order updates (ODE variants): DPM-Solver++
    /// x_t = (σ_t/σ_b)·x_b − α_t·em·m_b + α_t(em/h + 1)·D₁ − α_t((em + h)/h² − ½)·D₂ with em = e^(−h) − 1, and DPM-Solver
    /// likewise with ep = eʰ − 1. Without <paramref name="d2"/> (the singlestep midpoint update) the D₂ term is left out.
    /// </summary>
    public static void ThirdOrder(AlgorithmType algorithmType, float alphaT, float sigmaT, float alphaB, float sigmaB, float h,
        ReadOnlySpan<float> baseSample, ReadOnlySpan<float> baseOutput, ReadOnlySpan<float> d1, ReadOnlySpan<float> d2, Span<float> destination)
    {
        bool withD2 = !d2.IsEmpty;
        if (algorithmType == AlgorithmType.DpmSolverPlusPlus)
        {
            float em = SleefFloat.Exp(-h) - 1f;
            float a = sigmaT / sigmaB;
            float b = alphaT * em;
            float c = alphaT * (em / h + 1f);
            if (withD2)
            {
                float d = alphaT * ((em + h) / (h * h) - 0.5f);
                ElementwiseOps.LinearCombination(a, baseSample, -b, baseOutput, c, d1, -d, d2, destination);
            }
            else
            {
                ElementwiseOps.LinearCombination(a, baseSample, -b, baseOutput, c, d1, destination);
            }
        }
        else
        {
            float ep = SleefFloat.Exp(h) - 1f;
            float a = alphaT / alphaB;
            float b = sigmaT * ep;
            float c = sigmaT * (ep / h - 1f);
            if (withD2)
            {
                float d = sigmaT * ((ep - h) / (h * h) - 0.5f);
                ElementwiseOps.LinearCombination(a, baseSample, -b, baseOutput, -c, d1, -d, d2, destination);
            }
            else
            {
                ElementwiseOps.LinearCombination(a, baseSample, -b, baseOutput, -c, d1, destination);
            }
        }
    }

    /// <summary>
    /// Copies the mean channels <c>model_output[:, :3]</c> of a learned-variance model output into
    /// <paramref name="destination"/> (shape [B, 3, …]).
    /// </summary>
    public static void MeanChannels(ReadOnlySpan<float> modelOutput, int batch, int channels, int spatial, Span<float> destination)
    {
        for (int b = 0; b < batch; b++)
        {
            modelOutput.Slice(b * channels * spatial, 3 * spatial).CopyTo(destination.Slice(b * 3 * spatial, 3 * spatial));
        }
    }

    /// <summary>
    /// Resolves the model output a step works on: the output itself, or its first three channels when the model
    /// predicts a learned variance with ε-prediction (diffusers slices <c>model_output[:, :3]</c>).
    /// </summary>
    public static ReadOnlySpan<float> EffectiveModelOutput(Tensor<float> modelOutput, Tensor<float> sample,
        bool sliceMean, ref float[]? scratch, string className)
    {
        ArgumentNullException.ThrowIfNull(modelOutput);
        ArgumentNullException.ThrowIfNull(sample);
        if (!sliceMean)
        {
            if (modelOutput.FlattenedLength != sample.FlattenedLength)
            {
                throw new ArgumentException($"model output has {modelOutput.FlattenedLength} elements but the sample has {sample.FlattenedLength}.", nameof(modelOutput));
            }
            return modelOutput.AsSpan();
        }
        ReadOnlySpan<nint> shape = modelOutput.Lengths;
        ReadOnlySpan<nint> sampleShape = sample.Lengths;
        if (shape.Length < 2 || sampleShape.Length != shape.Length || shape[1] < 3 || sampleShape[1] != 3 || sampleShape[0] != shape[0])
        {
            throw new ArgumentException($"{className} with a learned variance takes model_output[:, :3] as the mean: the model output needs at least 3 channels and the sample exactly 3 (got [{string.Join(", ", shape.ToArray())}] and [{string.Join(", ", sampleShape.ToArray())}]).", nameof(modelOutput));
        }
        int spatial = 1;
        for (int i = 2; i < shape.Length; i++)
        {
            if (shape[i] != sampleShape[i])
            {
                throw new ArgumentException("The model output and the sample differ in their spatial dimensions.", nameof(modelOutput));
            }
            spatial *= (int)shape[i];
        }
        int length = checked((int)sample.FlattenedLength);
        if (scratch is null || scratch.Length != length)
        {
            scratch = new float[length];
        }
        MeanChannels(modelOutput.AsSpan(), (int)shape[0], (int)shape[1], spatial, scratch);
        return scratch;
    }
}
