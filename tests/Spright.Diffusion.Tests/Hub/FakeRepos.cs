using System.Text;

using Spright.Diffusion.Configuration;

namespace Spright.Diffusion.Tests.Hub;

/// <summary>Repositories for the fake Hub, shaped like real ones (file names and configs; made-up weights).</summary>
internal static class FakeRepos
{
    /// <summary>SPRIGHT-T2I/spright-t2i-sd2's model_index.json (shared/docs/spright-configs.md).</summary>
    public const string SprightModelIndex = """
        {
          "_class_name": "StableDiffusionPipeline",
          "_diffusers_version": "0.28.0.dev0",
          "_name_or_path": "stabilityai/stable-diffusion-2-1",
          "feature_extractor": ["transformers", "CLIPImageProcessor"],
          "image_encoder": [null, null],
          "requires_safety_checker": false,
          "safety_checker": [null, null],
          "scheduler": ["diffusers", "DDIMScheduler"],
          "text_encoder": ["transformers", "CLIPTextModel"],
          "tokenizer": ["transformers", "CLIPTokenizer"],
          "unet": ["diffusers", "UNet2DConditionModel"],
          "vae": ["diffusers", "AutoencoderKL"]
        }
        """;

    /// <summary>The 13 files diffusers' download fetches from SPRIGHT (shared/docs/hub-protocol.md §3).</summary>
    public static readonly string[] SprightPipelineFiles =
    [
        "feature_extractor/preprocessor_config.json",
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.safetensors",
        "tokenizer/merges.txt",
        "tokenizer/special_tokens_map.json",
        "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ];

    /// <summary>The SPRIGHT repository's files (its listing, with README, .gitattributes and result images) with
    /// small made-up weights; <paramref name="extra"/> adds or replaces files.</summary>
    public static Dictionary<string, FakeFile> SprightShaped(int weightScale = 1, IDictionary<string, FakeFile>? extra = null)
    {
        var files = new Dictionary<string, FakeFile>(StringComparer.Ordinal)
        {
            ["model_index.json"] = FakeHub.Text(SprightModelIndex, "model_index.json"),
            ["README.md"] = FakeHub.Text("---\nlicense: openrail++\n---\n# SPRIGHT\n", "README.md"),
            [".gitattributes"] = FakeHub.Text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n", ".gitattributes"),
            ["spright_good.png"] = FakeHub.File(Bytes(3000, 1), "spright_good.png"),
            ["feature_extractor/preprocessor_config.json"] = Json("""{"crop_size": {"height": 224, "width": 224}}"""),
            ["scheduler/scheduler_config.json"] = Json("""{"_class_name": "DDIMScheduler", "prediction_type": "v_prediction"}"""),
            ["text_encoder/config.json"] = Json("""{"architectures": ["CLIPTextModel"], "hidden_size": 1024}"""),
            ["text_encoder/model.safetensors"] = FakeHub.File(Bytes(150_000 * weightScale, 2), "text_encoder/model.safetensors"),
            ["tokenizer/merges.txt"] = FakeHub.Text("#version: 0.2\ni n\n", "tokenizer/merges.txt"),
            ["tokenizer/special_tokens_map.json"] = Json("""{"pad_token": "!"}"""),
            ["tokenizer/tokenizer_config.json"] = Json("""{"model_max_length": 77}"""),
            ["tokenizer/vocab.json"] = Json("""{"!": 0}"""),
            ["unet/config.json"] = Json("""{"_class_name": "UNet2DConditionModel", "sample_size": 96}"""),
            ["unet/diffusion_pytorch_model.safetensors"] = FakeHub.File(Bytes(400_000 * weightScale, 3), "unet/diffusion_pytorch_model.safetensors"),
            ["vae/config.json"] = Json("""{"_class_name": "AutoencoderKL", "scaling_factor": 0.18215}"""),
            ["vae/diffusion_pytorch_model.safetensors"] = FakeHub.File(Bytes(60_000 * weightScale, 4), "vae/diffusion_pytorch_model.safetensors"),
        };
        foreach ((string path, FakeFile file) in extra ?? new Dictionary<string, FakeFile>())
        {
            files[path] = file;
        }
        return files;
    }

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] Bytes(int length, int seed)
    {
        var rng = new System.Random(seed);
        byte[] data = new byte[length];
        rng.NextBytes(data);
        return data;
    }

    private static FakeFile Json(string text) => new(Encoding.UTF8.GetBytes(text), lfs: false);
}
