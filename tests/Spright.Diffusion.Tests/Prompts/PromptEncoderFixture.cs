using System.Text.Json;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.Prompts;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Tests.Prompts;

/// <summary>The tiny SD 2 tokenizer and ONNX text encoder (optimum export), shared by the prompt-weighting tests.</summary>
public sealed class PromptEncoderFixture : IDisposable
{
    public PromptEncoderFixture()
    {
        Tokenizer = ClipTokenizer.FromPretrained(Path.Combine(TestPaths.TinyModel, "tokenizer"));
        TextEncoder = new OnnxTextEncoder(Path.Combine(TestPaths.TinyModel, "text_encoder", "model.onnx"));
        Context = new PromptEncoderContext(Tokenizer, TextEncoder);
    }

    public ClipTokenizer Tokenizer { get; }

    internal OnnxTextEncoder TextEncoder { get; }

    public PromptEncoderContext Context { get; }

    public void Dispose() => TextEncoder.Dispose();

    /// <summary>The SD 1.x tokenizer (pad token &lt;|endoftext|&gt;): SD 2's vocabulary files with tiny-sd1-diffusers'
    /// two config files.</summary>
    public static ClipTokenizer Sd1Tokenizer()
    {
        string dir = Path.Combine(Path.GetTempPath(), "spright-sd1-tokenizer-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        foreach (string f in new[] { "vocab.json", "merges.txt" })
        {
            File.Copy(Path.Combine(TestPaths.ClipTokenizerSd2, f), Path.Combine(dir, f), overwrite: true);
        }
        foreach (string f in new[] { "special_tokens_map.json", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(TestPaths.TestData, "models", "tiny-sd1-tokenizer-config", f), Path.Combine(dir, f), overwrite: true);
        }
        return ClipTokenizer.FromPretrained(dir);
    }
}

/// <summary>One case folder of reference area I (manifest.json + the .npy arrays).</summary>
internal sealed class PromptWeightingCase
{
    private PromptWeightingCase(string folder, string prompt, string negativePrompt)
    {
        Folder = folder;
        Prompt = prompt;
        NegativePrompt = negativePrompt;
    }

    public string Folder { get; }

    public string Prompt { get; }

    public string NegativePrompt { get; }

    public static PromptWeightingCase Load(params string[] path)
    {
        string folder = TestPaths.Reference(["prompt_weighting", .. path]);
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "manifest.json")));
        return new PromptWeightingCase(folder, manifest.RootElement.GetProperty("prompt").GetString()!,
            manifest.RootElement.GetProperty("negative_prompt").GetString()!);
    }

    public static IEnumerable<string> Ids(params string[] path)
    {
        using JsonDocument index = JsonDocument.Parse(File.ReadAllText(TestPaths.Reference([.. new[] { "prompt_weighting" }, .. path, "index.json"])));
        return index.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToList();
    }

    public NpyArray Npy(string name) => Infrastructure.Npy.Load(Path.Combine(Folder, name));
}
