using System.Text.Json;
using System.Text.Json.Nodes;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>One scheduler trajectory of reference area C, and a replay of the same loop in C#.</summary>
internal sealed class SchedulerReferenceCase
{
    private static readonly Lazy<JsonElement> ManifestRoot = new(() =>
    {
        string text = Spright.Diffusion.Configuration.PythonJson.QuoteNonFiniteLiterals(File.ReadAllText(TestPaths.Reference("schedulers", "manifest.json")));
        return JsonDocument.Parse(text).RootElement.Clone();
    });

    private SchedulerReferenceCase(JsonElement element) => Element = element;

    public JsonElement Element { get; }

    public string Id => Element.GetProperty("id").GetString()!;

    public string SchedulerClass => Element.GetProperty("scheduler_class").GetString()!;

    public static SchedulerConfig BaseConfig => SchedulerConfig.Parse(ManifestRoot.Value.GetProperty("base_config").GetRawText());

    public static IEnumerable<SchedulerReferenceCase> All() =>
        ManifestRoot.Value.GetProperty("cases").EnumerateArray().Select(e => new SchedulerReferenceCase(e));

    public static SchedulerReferenceCase Get(string id) => All().Single(c => c.Id == id);

    public NpyArray Load(string name) =>
        Npy.Load(TestPaths.Reference("schedulers", Element.GetProperty("files").GetProperty(name).GetProperty("file").GetString()!));

    public bool HasFile(string name) => Element.GetProperty("files").TryGetProperty(name, out _);

    public IScheduler CreateScheduler()
    {
        var overrides = new List<KeyValuePair<string, object?>>();
        foreach (JsonProperty p in Element.GetProperty("from_config_kwargs").EnumerateObject())
        {
            overrides.Add(new(p.Name, JsonNode.Parse(p.Value.GetRawText())));
        }
        return SchedulerRegistry.Create(SchedulerClass, BaseConfig, overrides);
    }

    /// <summary>The analytic stand-in for the UNet: x·0.3 + float32(0.05·cos(t/100)), two float32 roundings.</summary>
    public static void Model(ReadOnlySpan<float> xIn, float t, Span<float> output)
    {
        float c = (float)(0.05 * Math.Cos((double)t / 100.0));
        for (int i = 0; i < xIn.Length; i++)
        {
            float p = xIn[i] * 0.3f;
            output[i] = p + c;
        }
    }

    /// <summary>Runs the reference loop and returns everything recorded along the way.</summary>
    public Trajectory Run()
    {
        IScheduler scheduler = CreateScheduler();
        int steps = Element.GetProperty("num_inference_steps").GetInt32();
        var generator = new TorchGenerator(Element.GetProperty("seed").GetUInt64());
        int[] shape = Element.GetProperty("latent_shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int n = shape.Aggregate(1, (a, b) => a * b);
        bool img2img = Element.GetProperty("mode").GetString() == "img2img";
        JsonElement kwargs = Element.GetProperty("step_kwargs");
        bool passGenerator = kwargs.TryGetProperty("generator", out _);
        float eta = kwargs.TryGetProperty("eta", out JsonElement etaEl) ? etaEl.GetSingle() : 0f;

        scheduler.SetTimesteps(steps);
        float[] timestepsFull = scheduler.Timesteps.ToArray();
        float[] sigmas = scheduler.Sigmas.ToArray();
        float[] loop = timestepsFull;
        var latents = new float[n];
        var noise = new float[n];
        if (img2img)
        {
            double strength = Element.GetProperty("strength").GetDouble();
            int initTimestep = Math.Min((int)(steps * strength), steps);
            int tStart = Math.Max(steps - initTimestep, 0);
            loop = timestepsFull[(tStart * scheduler.Order)..];
            scheduler.SetBeginIndex(tStart * scheduler.Order);
            generator.Randn(noise);
            float[] x0 = Load("x0").AsFloat32();
            scheduler.AddNoise(x0, noise, loop[0], latents);
        }
        else
        {
            generator.Randn(noise);
            for (int i = 0; i < n; i++)
            {
                latents[i] = noise[i] * scheduler.InitNoiseSigma;
            }
        }
        float[] latentsInit = (float[])latents.Clone();

        var xIns = new List<float[]>();
        var outputs = new List<float[]>();
        var prevs = new List<float[]>();
        var latentTensor = TensorShapes.Wrap(latents, shape);
        var modelOut = new float[n];
        var modelTensor = TensorShapes.Wrap(modelOut, shape);
        var xIn = new float[n];
        foreach (float t in loop)
        {
            scheduler.ScaleModelInput(latents, t, xIn);
            Model(xIn, t, modelOut);
            xIns.Add((float[])xIn.Clone());
            outputs.Add((float[])modelOut.Clone());
            SchedulerVariants.Step(scheduler, modelTensor, t, latentTensor, passGenerator ? generator : null, eta);
            prevs.Add((float[])latents.Clone());
        }
        return new Trajectory(timestepsFull, loop, sigmas, noise, latentsInit, xIns, outputs, prevs, latents, scheduler);
    }

    public sealed record Trajectory(
        float[] TimestepsFull, float[] TimestepsLoop, float[] Sigmas, float[] Noise, float[] LatentsInit,
        List<float[]> XIn, List<float[]> ModelOutput, List<float[]> PrevSample, float[] Final, IScheduler Scheduler);
}
