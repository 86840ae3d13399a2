namespace Spright.Diffusion.Numerics;

/// <summary>numpy's float64 <c>arange</c> and <c>linspace</c> exactly as numpy 1.24 computes them (schedules are
/// built with numpy in diffusers, then rounded/cast).</summary>
internal static class NumpyOps
{
    /// <summary><c>np.arange(start, stop, step)</c> for float64: length <c>ceil((stop − start)/step)</c>, then
    /// <c>start + i·delta</c> with <c>delta = (start + step) − start</c> (numpy's fill).</summary>
    public static double[] Arange(double start, double stop, double step)
    {
        if (step == 0)
        {
            throw new ArgumentException("arange step must not be zero.", nameof(step));
        }
        double lengthD = Math.Ceiling((stop - start) / step);
        int length = lengthD > 0 ? checked((int)lengthD) : 0;
        var result = new double[length];
        if (length == 0)
        {
            return result;
        }
        result[0] = start;
        if (length == 1)
        {
            return result;
        }
        double second = start + step;
        result[1] = second;
        double delta = second - start;
        for (int i = 2; i < length; i++)
        {
            result[i] = start + i * delta;
        }
        return result;
    }

    /// <summary><c>np.linspace(start, stop, num)</c> (endpoint included) for float64.</summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        if (num < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(num), num, "linspace needs a non-negative count.");
        }
        var result = new double[num];
        if (num == 0)
        {
            return result;
        }
        int div = num - 1;
        double delta = stop - start;
        if (div > 0)
        {
            double step = delta / div;
            if (step == 0)
            {
                for (int i = 0; i < num; i++)
                {
                    result[i] = i / (double)div * delta + start;
                }
            }
            else
            {
                for (int i = 0; i < num; i++)
                {
                    result[i] = i * step + start;
                }
            }
            result[num - 1] = stop;
        }
        else
        {
            result[0] = start;
        }
        return result;
    }

    /// <summary>numpy's <c>round</c> (half to even).</summary>
    public static double Round(double x) => Math.Round(x, MidpointRounding.ToEven);
}
