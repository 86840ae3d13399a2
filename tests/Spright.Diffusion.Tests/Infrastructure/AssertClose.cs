namespace Spright.Diffusion.Tests.Infrastructure;

/// <summary>Element-wise closeness assertions that report the worst element.</summary>
internal static class AssertClose
{
    /// <summary>Asserts |actual − expected| ≤ atol + rtol·|expected| for every element.</summary>
    public static void All(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, double rtol = 0, string what = "values")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length} != expected {expected.Length}");
        double worst = 0;
        int worstIndex = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i];
            double a = actual[i];
            if (double.IsNaN(a) != double.IsNaN(e))
            {
                Assert.Fail($"{what}[{i}]: actual {a} vs expected {e} (NaN mismatch)");
            }
            double diff = Math.Abs(a - e);
            double excess = diff - (atol + rtol * Math.Abs(e));
            if (excess > 0 && (worstIndex < 0 || diff > worst))
            {
                worst = diff;
                worstIndex = i;
            }
        }
        if (worstIndex >= 0)
        {
            Assert.Fail($"{what}: max |diff| {worst:E3} at [{worstIndex}] (actual {actual[worstIndex]:R}, expected {expected[worstIndex]:R}) exceeds atol {atol:E1} + rtol {rtol:E1}; {MaxAbsDiff(expected, actual):E3} overall");
        }
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double worst = 0;
        for (int i = 0; i < Math.Min(expected.Length, actual.Length); i++)
        {
            worst = Math.Max(worst, Math.Abs((double)expected[i] - actual[i]));
        }
        return worst;
    }

    /// <summary>Asserts bit-exact equality (value equality; -0 == +0).</summary>
    public static void Exact(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what = "values")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length} != expected {expected.Length}");
        int mismatches = 0;
        int first = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i] && !(float.IsNaN(expected[i]) && float.IsNaN(actual[i])))
            {
                mismatches++;
                if (first < 0)
                {
                    first = i;
                }
            }
        }
        if (mismatches > 0)
        {
            Assert.Fail($"{what}: {mismatches}/{expected.Length} elements differ; first at [{first}]: actual {actual[first]:R} vs expected {expected[first]:R}");
        }
    }
}
