using BenchmarkDotNet.Attributes;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Benchmarks;

/// <summary>The CLIP tokenizer: encoding a prompt to 77 padded ids, and creating the tokenizer from its files.</summary>
[MemoryDiagnoser]
[BenchmarkCategory("Tokenizer")]
public class TokenizerBenchmarks
{
    private const string Prompt = "a cute kitten is sitting in a dish on a table, to the left of a red cube";
    private const string LongPrompt =
        "a photograph of an astronaut riding a horse on the surface of the moon, the earth rising behind them, " +
        "dramatic lighting, highly detailed, sharp focus, 8k, trending on artstation, by a famous photographer, " +
        "with a small dog to the right of the horse and three stars above the astronaut's helmet";

    private ClipTokenizer _tokenizer = null!;
    private string _folder = null!;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(BenchmarkPaths.TinyModel, "tokenizer");
        _tokenizer = ClipTokenizer.FromPretrained(_folder);
    }

    [Benchmark]
    public int[] EncodePadded() => _tokenizer.EncodePadded(Prompt);

    [Benchmark]
    public int[] EncodePadded_Truncated() => _tokenizer.EncodePadded(LongPrompt);

    [Benchmark]
    public ClipTokenizer CreateFromFiles() => ClipTokenizer.FromPretrained(_folder);
}
