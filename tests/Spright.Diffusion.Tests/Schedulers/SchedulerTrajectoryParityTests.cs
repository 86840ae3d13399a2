using System.Text.Json;
using System.Text.Json.Nodes;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>
/// Replays every trajectory of reference area C (69 cases, diffusers 0.31 + torch 1.13) with our schedulers and
/// the same analytic model. Tolerances (from the issue): timesteps/sigmas exact or ≤ 1e-6, samples ≤ 1e-5 abs.
/// </summary>
public sealed class SchedulerTrajectoryParityTests
{
    private const double SampleTolerance = 1e-5;
    private const double ScheduleTolerance = 1e-6;

    public static TheoryData<string> CaseIds()
    {
        var data = new TheoryData<string>();
        foreach (SchedulerReferenceCase c in SchedulerReferenceCase.All())
        {
            data.Add(c.Id);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void TrajectoryMatchesDiffusers(string caseId)
    {
        SchedulerReferenceCase c = SchedulerReferenceCase.Get(caseId);
        Assert.True(SchedulerRegistry.IsKnown(c.SchedulerClass), $"{c.SchedulerClass} is not implemented");
        SchedulerReferenceCase.Trajectory run = c.Run();

        float[] expectedTimesteps = c.Load("timesteps_full").AsFloat32();
        AssertClose.All(expectedTimesteps, run.TimestepsFull, ScheduleTolerance, ScheduleTolerance, "timesteps_full");
        Assert.Equal(c.Load("timesteps_full").Descr == "<i8", ((SchedulerBase)run.Scheduler).HasIntegerTimesteps);
        AssertClose.All(c.Load("timesteps_loop").AsFloat32(), run.TimestepsLoop, ScheduleTolerance, ScheduleTolerance, "timesteps_loop");
        if (c.HasFile("sigmas"))
        {
            AssertClose.All(c.Load("sigmas").AsFloat32(), run.Sigmas, ScheduleTolerance, ScheduleTolerance, "sigmas");
        }
        Assert.Equal(c.Element.GetProperty("init_noise_sigma").GetDouble(), run.Scheduler.InitNoiseSigma, 6);
        Assert.Equal(c.Element.GetProperty("order").GetInt32(), run.Scheduler.Order);

        AssertClose.Exact(c.Load("noise").AsFloat32(), run.Noise, "noise");
        AssertClose.All(c.Load("latents_init").AsFloat32(), run.LatentsInit, SampleTolerance, 0, "latents_init");

        NpyArray xIn = c.Load("x_in");
        NpyArray modelOutput = c.Load("model_output");
        NpyArray prev = c.Load("prev_sample");
        Assert.Equal(xIn.Shape[0], run.XIn.Count);
        for (int step = 0; step < run.XIn.Count; step++)
        {
            AssertClose.All(xIn.Row(step), run.XIn[step], SampleTolerance, 0, $"x_in[{step}]");
            AssertClose.All(modelOutput.Row(step), run.ModelOutput[step], SampleTolerance, 0, $"model_output[{step}]");
            AssertClose.All(prev.Row(step), run.PrevSample[step], SampleTolerance, 0, $"prev_sample[{step}]");
        }
        AssertClose.All(c.Load("final").AsFloat32(), run.Final, SampleTolerance, 0, "final");
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void ResolvedConfigMatchesDiffusers(string caseId)
    {
        SchedulerReferenceCase c = SchedulerReferenceCase.Get(caseId);
        Assert.True(SchedulerRegistry.IsKnown(c.SchedulerClass), $"{c.SchedulerClass} is not implemented");
        IScheduler scheduler = c.CreateScheduler();
        JsonObject expected = JsonNode.Parse(c.Element.GetProperty("resolved_config").GetRawText())!.AsObject();
        JsonObject actual = JsonNode.Parse(scheduler.Config.ToJson())!.AsObject();
        Assert.Equal(expected.Select(kv => kv.Key), actual.Select(kv => kv.Key));
        foreach (KeyValuePair<string, JsonNode?> kv in expected)
        {
            Assert.True(JsonValuesEqual(kv.Value, actual[kv.Key]), $"{kv.Key}: expected {kv.Value?.ToJsonString()}, got {actual[kv.Key]?.ToJsonString()}");
        }
    }

    [Fact]
    public void AlphasCumprodEqualsTorchBitForBit()
    {
        var ddim = DDIMScheduler.FromConfig(SchedulerReferenceCase.BaseConfig);
        AssertClose.Exact(Npy.Load(TestPaths.Reference("schedulers", "table__alphas_cumprod__scaled_linear.npy")).AsFloat32(), ddim.AlphasCumprod.ToArray(), "alphas_cumprod");
        var zsnr = DDIMScheduler.FromConfig(SchedulerReferenceCase.BaseConfig, [new("rescale_betas_zero_snr", true)]);
        AssertClose.All(Npy.Load(TestPaths.Reference("schedulers", "table__alphas_cumprod__scaled_linear_zero_snr.npy")).AsFloat32(), zsnr.AlphasCumprod.ToArray(), 1e-7, 1e-6, "alphas_cumprod (zero SNR)");
    }

    private static bool JsonValuesEqual(JsonNode? a, JsonNode? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }
        if (a is JsonValue va && b is JsonValue vb)
        {
            if (va.GetValueKind() == JsonValueKind.Number || vb.GetValueKind() == JsonValueKind.Number)
            {
                return ToDouble(va) == ToDouble(vb);
            }
        }
        return JsonNode.DeepEquals(a, b) || a.ToJsonString() == b.ToJsonString();
    }

    private static double ToDouble(JsonValue v) => v.GetValueKind() switch
    {
        JsonValueKind.Number => v.GetValue<double>(),
        JsonValueKind.String => v.GetValue<string>() switch { "-Infinity" => double.NegativeInfinity, "Infinity" => double.PositiveInfinity, _ => double.NaN },
        _ => double.NaN,
    };
}
