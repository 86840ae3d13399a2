namespace Spright.Diffusion.Numerics;

/// <summary>
/// The Beta(a, b) distribution's regularized incomplete beta function and its inverse (what
/// <c>scipy.stats.beta.ppf</c> gives diffusers' <c>use_beta_sigmas</c>), in float64 to about 1e-14.
/// </summary>
internal static class BetaDistribution
{
    private static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
        -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
        1.5056327351493116e-7,
    ];

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5)
        {
            // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }
        x -= 1;
        double sum = Lanczos[0];
        double t = x + 7.5;
        for (int i = 1; i < Lanczos.Length; i++)
        {
            sum += Lanczos[i] / (x + i);
        }
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }

    /// <summary>The regularized incomplete beta function I_x(a, b) (the Beta(a, b) CDF).</summary>
    public static double Cdf(double x, double a, double b)
    {
        if (double.IsNaN(x))
        {
            return double.NaN;
        }
        if (x <= 0)
        {
            return 0;
        }
        if (x >= 1)
        {
            return 1;
        }
        double logFront = a * Math.Log(x) + b * Math.Log(1 - x) - LogBeta(a, b);
        double front = Math.Exp(logFront);
        return x < (a + 1) / (a + b + 2)
            ? front * ContinuedFraction(x, a, b) / a
            : 1 - front * ContinuedFraction(1 - x, b, a) / b;
    }

    /// <summary>The quantile function (inverse CDF) of Beta(a, b).</summary>
    public static double Quantile(double p, double a, double b)
    {
        if (double.IsNaN(p) || p < 0 || p > 1)
        {
            return double.NaN;
        }
        if (p == 0)
        {
            return 0;
        }
        if (p == 1)
        {
            return 1;
        }

        double logBeta = LogBeta(a, b);
        double x = InitialGuess(p, a, b);
        double lo = 0, hi = 1;
        for (int iteration = 0; iteration < 200; iteration++)
        {
            double f = Cdf(x, a, b) - p;
            if (f == 0)
            {
                return x;
            }
            if (f < 0)
            {
                lo = x;
            }
            else
            {
                hi = x;
            }
            double density = Math.Exp((a - 1) * Math.Log(x) + (b - 1) * Math.Log(1 - x) - logBeta);
            double next = x - f / density;
            if (!(next > lo && next < hi) || double.IsNaN(next))
            {
                next = 0.5 * (lo + hi);
            }
            if (Math.Abs(next - x) <= 1e-16 * Math.Max(x, 1e-300) || next == lo || next == hi)
            {
                return next;
            }
            x = next;
        }
        return x;
    }

    private static double LogBeta(double a, double b) => LogGamma(a) + LogGamma(b) - LogGamma(a + b);

    private static double InitialGuess(double p, double a, double b)
    {
        double x;
        if (a >= 1 && b >= 1)
        {
            double pp = p < 0.5 ? p : 1 - p;
            double t = Math.Sqrt(-2 * Math.Log(pp));
            x = (2.30753 + t * 0.27061) / (1 + t * (0.99229 + t * 0.04481)) - t;
            if (p < 0.5)
            {
                x = -x;
            }
            double al = (x * x - 3) / 6;
            double h = 2 / (1 / (2 * a - 1) + 1 / (2 * b - 1));
            double w = x * Math.Sqrt(al + h) / h - (1 / (2 * b - 1) - 1 / (2 * a - 1)) * (al + 5.0 / 6 - 2 / (3 * h));
            x = a / (a + b * Math.Exp(2 * w));
        }
        else
        {
            double lna = Math.Log(a / (a + b));
            double lnb = Math.Log(b / (a + b));
            double t = Math.Exp(a * lna) / a;
            double u = Math.Exp(b * lnb) / b;
            double w = t + u;
            x = p < t / w ? Math.Pow(a * w * p, 1 / a) : 1 - Math.Pow(b * w * (1 - p), 1 / b);
        }
        return Math.Clamp(x, 1e-300, 1 - 1e-16);
    }

    // Modified Lentz evaluation of the continued fraction for I_x(a, b).
    private static double ContinuedFraction(double x, double a, double b)
    {
        const double Tiny = 1e-300;
        double qab = a + b, qap = a + 1, qam = a - 1;
        double c = 1, d = 1 - qab * x / qap;
        if (Math.Abs(d) < Tiny)
        {
            d = Tiny;
        }
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= 1000; m++)
        {
            int m2 = 2 * m;
            double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + aa * d;
            if (Math.Abs(d) < Tiny)
            {
                d = Tiny;
            }

            c = 1 + aa / c;
            if (Math.Abs(c) < Tiny)
            {
                c = Tiny;
            }

            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + aa * d;
            if (Math.Abs(d) < Tiny)
            {
                d = Tiny;
            }

            c = 1 + aa / c;
            if (Math.Abs(c) < Tiny)
            {
                c = Tiny;
            }

            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.Abs(del - 1) < 1e-16)
            {
                break;
            }
        }
        return h;
    }
}
