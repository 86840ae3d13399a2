using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Spright.Diffusion.Components;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.Prompts;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Benchmarks;

/// <summary>
/// Weighted prompts of three 77-token chunks (lpw and compel syntax) and their negative prompts, alone and in a batch
/// of four with two short prompts (every row padded to three chunks). The <c>*_Overhead</c>
/// rows use a stand-in text encoder that hands back precomputed SD 2-sized states (hidden 1024) at no cost, so they
/// measure only the parsing, tokenization, chunking and weighting this library adds; the <c>*_TinyEncoder</c> rows
/// run the tiny ONNX text encoder, next to <c>TextEncoder_SixRows</c>, the same encoder run alone on the six rows.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("Tokenizer", "PromptWeighting")]
public class PromptWeightingBenchmarks
{
    private const string Scene =
        "a highly detailed photograph of a small red wooden house standing on the left side of a wide green meadow, with a tall old oak tree on the right, " +
        "three white sheep grazing in front of the house, a narrow stone path leading from the bottom of the picture to the blue front door";

    private static readonly string LpwPrompt =
        $"(masterpiece:1.2), {Scene}, ((soft morning light)), [fog], {Scene.Replace("red", "(yellow:1.3)", StringComparison.Ordinal)}, " +
        Scene.Replace("green", "[[green]]", StringComparison.Ordinal);

    private static readonly string CompelPrompt =
        $"(masterpiece)1.2, {Scene}, (soft morning light)++, fog-, {Scene.Replace("red", "(yellow)1.3", StringComparison.Ordinal)}, " +
        Scene.Replace("green", "green--", StringComparison.Ordinal);

    private static readonly string[] Blurry = ["blurry"];

    // Two three-chunk prompts and two short ones: every row of both sides padded to three chunks.
    private static readonly string[] LpwBatch = [LpwPrompt, "a (red) cube", LpwPrompt.Replace("house", "barn", StringComparison.Ordinal), "[fog]"];

    private static readonly string[] CompelBatch = [CompelPrompt, "a red+ cube", CompelPrompt.Replace("house", "barn", StringComparison.Ordinal), "fog-"];

    private static readonly string[] BatchNegatives = ["blurry", "", "lowres", ""];

    private ClipTokenizer _tokenizer = null!;
    private OnnxTextEncoder _tiny = null!;
    private PromptEncoderContext _free = null!;
    private PromptEncoderContext _tinyContext = null!;
    private readonly LpwPromptEncoder _lpw = new();
    private readonly CompelPromptEncoder _compel = new();
    private int[] _sixRows = null!;

    [GlobalSetup]
    public void Setup()
    {
        _tokenizer = ClipTokenizer.FromPretrained(Path.Combine(BenchmarkPaths.TinyModel, "tokenizer"));
        _tiny = new OnnxTextEncoder(Path.Combine(BenchmarkPaths.TinyModel, "text_encoder", "model.onnx"));
        _free = new PromptEncoderContext(_tokenizer, new PrecomputedTextEncoder(1024));
        _tinyContext = new PromptEncoderContext(_tokenizer, _tiny);
        _sixRows = new int[6 * 77];
        for (int i = 0; i < _sixRows.Length; i++)
        {
            _sixRows[i] = i % 77 == 0 ? 49406 : i % 77 == 76 ? 49407 : 320 + (i % 500);
        }
        if (_lpw.Encode([LpwPrompt], Blurry, _free).PromptEmbeds.Lengths[1] != 231 || _compel.Encode([CompelPrompt], Blurry, _free).PromptEmbeds.Lengths[1] != 231)
        {
            throw new InvalidOperationException("the benchmark prompts must need three chunks");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _tiny.Dispose();

    [Benchmark]
    public PromptEmbeddings Lpw_ThreeChunks_Overhead() => _lpw.Encode([LpwPrompt], Blurry, _free);

    [Benchmark]
    public PromptEmbeddings Compel_ThreeChunks_Overhead() => _compel.Encode([CompelPrompt], Blurry, _free);

    [Benchmark]
    public PromptEmbeddings Lpw_BatchOfFour_Overhead() => _lpw.Encode(LpwBatch, BatchNegatives, _free);

    [Benchmark]
    public PromptEmbeddings Compel_BatchOfFour_Overhead() => _compel.Encode(CompelBatch, BatchNegatives, _free);

    [Benchmark]
    public PromptEmbeddings Lpw_ThreeChunks_TinyEncoder() => _lpw.Encode([LpwPrompt], Blurry, _tinyContext);

    [Benchmark]
    public PromptEmbeddings Compel_ThreeChunks_TinyEncoder() => _compel.Encode([CompelPrompt], Blurry, _tinyContext);

    [Benchmark]
    public PromptEmbeddings Lpw_BatchOfFour_TinyEncoder() => _lpw.Encode(LpwBatch, BatchNegatives, _tinyContext);

    [Benchmark(Baseline = true)]
    public Tensor<float> TextEncoder_SixRows() => _tiny.Encode(_sixRows, 6);

    /// <summary>A text encoder that returns the same precomputed states for every call of a given batch size.</summary>
    private sealed class PrecomputedTextEncoder(int hidden) : ITextEncoder, IAttentionMaskTextEncoder
    {
        private readonly Dictionary<(int, int), Tensor<float>> _states = [];

        public int? HiddenSize => hidden;

        public int? MaxSequenceLength => null;

        public IDisposable? Acquire() => null;

        public Tensor<float> Encode(ReadOnlySpan<int> inputIds, int batchSize, CancellationToken cancellationToken = default)
        {
            int sequence = inputIds.Length / batchSize;
            lock (_states)
            {
                if (!_states.TryGetValue((batchSize, sequence), out Tensor<float>? states))
                {
                    var data = new float[batchSize * sequence * hidden];
                    for (int i = 0; i < data.Length; i++)
                    {
                        data[i] = MathF.Sin(i * 0.37f);
                    }
                    states = TensorShapes.Wrap(data, batchSize, sequence, hidden);
                    _states[(batchSize, sequence)] = states;
                }
                return states;
            }
        }

        public Tensor<float> Encode(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batchSize, CancellationToken cancellationToken = default) =>
            Encode(inputIds, batchSize, cancellationToken);

        public void Dispose()
        {
        }
    }
}
