using System.Text.Json;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Random;

/// <summary>Bit-exact parity of <see cref="TorchGenerator"/> with torch 1.13's CPU generator (reference area B).</summary>
public sealed class TorchGeneratorParityTests
{
    public static TheoryData<string> CaseIds()
    {
        var data = new TheoryData<string>();
        foreach (JsonElement c in Manifest().GetProperty("cases").EnumerateArray())
        {
            data.Add(c.GetProperty("id").GetString()!);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void EveryCallOfTheCaseMatchesTorchBitForBit(string caseId)
    {
        JsonElement c = Manifest().GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("id").GetString() == caseId);
        var generator = new TorchGenerator(c.GetProperty("seed").GetUInt64());
        foreach (JsonElement call in c.GetProperty("calls").EnumerateArray())
        {
            NpyArray expected = Npy.Load(TestPaths.Reference("rng", call.GetProperty("file").GetString()!));
            var actual = new float[call.GetProperty("numel").GetInt32()];
            switch (call.GetProperty("op").GetString())
            {
                case "randn":
                    generator.Randn(actual);
                    break;
                case "rand":
                    generator.Rand(actual);
                    break;
                default:
                    throw new InvalidOperationException("unknown op");
            }
            AssertClose.Exact(expected.Float32, actual, $"{caseId} call {call.GetProperty("call_index").GetInt32()}");
        }
    }

    [Fact]
    public void SeedUsesOnlyItsLow32Bits()
    {
        var a = new TorchGenerator((1UL << 40) + 7).Randn(1, 4, 8, 8);
        var b = new TorchGenerator(7UL).Randn(1, 4, 8, 8);
        Assert.True(a.SequenceEqual(b));
    }

    [Fact]
    public void ManualSeedClearsTheCachedNormal()
    {
        var g = new TorchGenerator(3UL);
        Span<float> one = stackalloc float[1];
        g.Randn(one); // leaves a cached second sample
        g.ManualSeed(3UL);
        Span<float> again = stackalloc float[1];
        g.Randn(again);
        Assert.Equal(one[0], again[0]);
    }

    [Fact]
    public void CloneReplaysTheSameFutureStream()
    {
        var g = new TorchGenerator(11UL);
        Span<float> warm = stackalloc float[7];
        g.Randn(warm); // leaves a cached normal
        TorchGenerator copy = g.Clone();
        var first = new float[40];
        var second = new float[40];
        g.Randn(first.AsSpan(0, 1));
        g.Randn(first.AsSpan(1));
        copy.Randn(second.AsSpan(0, 1));
        copy.Randn(second.AsSpan(1));
        Assert.Equal(first, second);
    }

    private static JsonElement Manifest()
    {
        using FileStream stream = File.OpenRead(TestPaths.Reference("rng", "manifest.json"));
        return JsonDocument.Parse(stream).RootElement.Clone();
    }
}
