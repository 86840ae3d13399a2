using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// The inference timesteps of diffusers' <c>timestep_spacing</c> option, built with numpy's float64 arithmetic
/// (<c>linspace</c>, <c>arange</c>, round half to even) as the three scheduler families do, in descending order.
/// </summary>
internal static class SpacedTimesteps
{
    /// <summary>
    /// DDIM, DDPM and PNDM: <c>linspace</c> = <c>round(linspace(0, T−1, n))</c>; <c>leading</c> =
    /// <c>arange(n)·(T//n) + steps_offset</c>; <c>trailing</c> = <c>round(arange(T, 0, −T/n)) − 1</c> (which, like
    /// numpy, can hold one value more than <paramref name="n"/> when T/n is not exact).
    /// </summary>
    public static long[] Discrete(TimestepSpacing spacing, int numTrainTimesteps, int n, int stepsOffset)
    {
        switch (spacing)
        {
            case TimestepSpacing.Linspace:
                {
                    double[] lin = NumpyOps.Linspace(0, numTrainTimesteps - 1, n);
                    var t = new long[n];
                    for (int i = 0; i < n; i++)
                    {
                        t[i] = (long)NumpyOps.Round(lin[n - 1 - i]);
                    }
                    return t;
                }
            case TimestepSpacing.Leading:
                {
                    long stepRatio = numTrainTimesteps / n;
                    var t = new long[n];
                    for (int i = 0; i < n; i++)
                    {
                        t[i] = (n - 1 - i) * stepRatio + stepsOffset;
                    }
                    return t;
                }
            case TimestepSpacing.Trailing:
                return Trailing(numTrainTimesteps, numTrainTimesteps, n);
            default:
                throw Unknown(spacing);
        }
    }

    /// <summary>
    /// The float32 timesteps of the sigma schedulers (Euler, Heun, LMS, KDPM2…): <c>linspace</c> keeps the unrounded
    /// <c>linspace(0, T−1, n)</c> values; <c>leading</c> and <c>trailing</c> are <see cref="Discrete"/>'s (exact in float32).
    /// </summary>
    public static float[] Fractional(TimestepSpacing spacing, int numTrainTimesteps, int n, int stepsOffset)
    {
        if (spacing == TimestepSpacing.Linspace)
        {
            double[] lin = NumpyOps.Linspace(0, numTrainTimesteps - 1, n);
            var t = new float[n];
            for (int i = 0; i < n; i++)
            {
                t[i] = (float)lin[n - 1 - i];
            }
            return t;
        }
        return VpSolverMath.TimestepsToFloat(Discrete(spacing, numTrainTimesteps, n, stepsOffset));
    }

    /// <summary>
    /// The multistep solvers' (DPM-Solver, DEIS, UniPC) timesteps for <paramref name="n"/> steps, spread below
    /// <paramref name="lastTimestep"/> (<c>num_train_timesteps</c> minus the λ-clipped ones): <c>linspace</c> =
    /// <c>round(linspace(0, last−1, n+1))</c> without its first value; <c>leading</c> = <c>arange(1, n+1)·(last//(n+1))
    /// + steps_offset</c>; <c>trailing</c> = <c>round(arange(last, 0, −T/n)) − 1</c>.
    /// </summary>
    public static long[] Solver(TimestepSpacing spacing, int numTrainTimesteps, int lastTimestep, int n, int stepsOffset)
    {
        switch (spacing)
        {
            case TimestepSpacing.Linspace:
                {
                    double[] lin = NumpyOps.Linspace(0, lastTimestep - 1, n + 1);
                    var t = new long[n];
                    for (int i = 0; i < n; i++)
                    {
                        t[i] = (long)NumpyOps.Round(lin[n - i]);
                    }
                    return t;
                }
            case TimestepSpacing.Leading:
                {
                    long stepRatio = lastTimestep / (n + 1);
                    var t = new long[n];
                    for (int i = 0; i < n; i++)
                    {
                        t[i] = (n - i) * stepRatio + stepsOffset;
                    }
                    return t;
                }
            case TimestepSpacing.Trailing:
                return Trailing(numTrainTimesteps, lastTimestep, n);
            default:
                throw Unknown(spacing);
        }
    }

    /// <summary>All training timesteps, largest first (a scheduler's schedule before <c>set_timesteps</c>).</summary>
    public static float[] AllTraining(int numTrainTimesteps)
    {
        var t = new float[numTrainTimesteps];
        for (int i = 0; i < t.Length; i++)
        {
            t[i] = numTrainTimesteps - 1 - i;
        }
        return t;
    }

    // round(arange(start, 0, −T/n)) − 1
    private static long[] Trailing(int numTrainTimesteps, int start, int n)
    {
        double stepRatio = numTrainTimesteps / (double)n;
        double[] ar = NumpyOps.Arange(start, 0, -stepRatio);
        var t = new long[ar.Length];
        for (int i = 0; i < ar.Length; i++)
        {
            t[i] = (long)NumpyOps.Round(ar[i]) - 1;
        }
        return t;
    }

    private static ArgumentOutOfRangeException Unknown(TimestepSpacing spacing) =>
        new(nameof(spacing), spacing, "Unknown timestep spacing.");
}
