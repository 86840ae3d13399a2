using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spright.Diffusion.ImageSharp;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Pipelines;

/// <summary>One diffusers pipeline reference run (reference area D) and how to replay it with our pipeline.</summary>
internal sealed class PipelineReferenceCase
{
    private readonly JsonElement _manifest;

    private PipelineReferenceCase(string name, params string[] area)
    {
        Name = name;
        Directory = TestPaths.Reference([.. area.Length == 0 ? ["pipeline"] : area, name]);
        string text = Spright.Diffusion.Configuration.PythonJson.QuoteNonFiniteLiterals(File.ReadAllText(Path.Combine(Directory, "manifest.json")));
        _manifest = JsonDocument.Parse(text).RootElement.Clone();
    }

    public string Name { get; }

    public string Directory { get; }

    public JsonElement Call => _manifest.GetProperty("call");

    public ulong Seed => _manifest.GetProperty("seed").GetUInt64();

    public string SchedulerClass => _manifest.GetProperty("scheduler").GetProperty("class").GetString()!;

    public bool IsImageToImage => Call.TryGetProperty("image", out _);

    public static PipelineReferenceCase Load(string name) => new(name);

    /// <summary>A case of the pipeline extras (reference area J: weighted prompts, VAE tiling).</summary>
    public static PipelineReferenceCase LoadExtra(string name) => new(name, "pipeline_extras");

    /// <summary>A case of the SD 1.x family run on tiny-sd1-diffusers (reference area H: variants/sd1/pipeline).</summary>
    public static PipelineReferenceCase LoadSd1(string name) => new(name, "variants", "sd1", "pipeline");

    public NpyArray Npy(string file) => Infrastructure.Npy.Load(Path.Combine(Directory, file));

    public bool Has(string file) => File.Exists(Path.Combine(Directory, file));

    /// <summary>The scheduler overrides of the case as CLI <c>key=value</c> pairs (JSON literals as written).</summary>
    public IEnumerable<KeyValuePair<string, string>> SchedulerOverrides()
    {
        foreach (JsonProperty p in _manifest.GetProperty("scheduler").GetProperty("overrides").EnumerateObject())
        {
            yield return new(p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText());
        }
    }

    /// <summary>Swaps in the case's scheduler exactly as the reference did: <c>Class.from_config(model config, **overrides)</c>.</summary>
    public void ConfigureScheduler(StableDiffusionPipelineBase pipe)
    {
        var overrides = new List<KeyValuePair<string, object?>>();
        foreach (JsonProperty p in _manifest.GetProperty("scheduler").GetProperty("overrides").EnumerateObject())
        {
            overrides.Add(new(p.Name, JsonNode.Parse(p.Value.GetRawText())));
        }
        pipe.Scheduler = SchedulerRegistry.Create(SchedulerClass, pipe.Scheduler.Config, overrides);
    }

    /// <summary>The call's arguments: <see cref="TextToImageOptions"/>, or <see cref="ImageToImageOptions"/> for
    /// image-to-image cases.</summary>
    public GenerationOptions Options()
    {
        JsonElement call = Call;
        GenerationOptions options = new TextToImageOptions
        {
            Seed = Seed,
            NumInferenceSteps = call.GetProperty("num_inference_steps").GetInt32(),
            GuidanceScale = call.TryGetProperty("guidance_scale", out JsonElement g) ? g.GetDouble() : 7.5,
            GuidanceRescale = call.TryGetProperty("guidance_rescale", out JsonElement gr) ? gr.GetDouble() : 0,
            Eta = call.TryGetProperty("eta", out JsonElement eta) ? eta.GetDouble() : 0,
            NumImagesPerPrompt = call.TryGetProperty("num_images_per_prompt", out JsonElement n) ? n.GetInt32() : 1,
            Height = call.TryGetProperty("height", out JsonElement h) ? h.GetInt32() : null,
            Width = call.TryGetProperty("width", out JsonElement w) ? w.GetInt32() : null,
            Prompt = call.TryGetProperty("prompt", out JsonElement prompt) ? Strings(prompt) : null,
            NegativePrompt = call.TryGetProperty("negative_prompt", out JsonElement negative) ? Strings(negative) : null,
            PromptEmbeds = call.TryGetProperty("prompt_embeds", out JsonElement pe) ? Tensor(pe.GetString()!) : null,
            NegativePromptEmbeds = call.TryGetProperty("negative_prompt_embeds", out JsonElement npe) ? Tensor(npe.GetString()!) : null,
        };
        if (call.TryGetProperty("image", out JsonElement image))
        {
            options = new ImageToImageOptions(options)
            {
                Image = ImageFiles.Load(Path.Combine(Directory, image.GetString()!)),
                Strength = call.GetProperty("strength").GetDouble(),
            };
        }
        return options;
    }

    public Tensor<float> Tensor(string file)
    {
        NpyArray a = Npy(file);
        return TensorShapes.Wrap(a.AsFloat32(), a.Shape);
    }

    private static IReadOnlyList<string> Strings(JsonElement e) =>
        e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => x.GetString()!).ToArray() : [e.GetString()!];
}
