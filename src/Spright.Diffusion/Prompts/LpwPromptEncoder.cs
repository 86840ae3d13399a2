using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// Weighted and long prompts in AUTOMATIC1111's syntax, giving the embeddings of diffusers v0.31.0's community
/// <c>lpw_stable_diffusion.get_weighted_text_embeddings(pipe, prompts, negative_prompts, max_embeddings_multiples)</c>
/// (its defaults otherwise: <c>no_boseos_middle=False</c>, no clip skip): <c>(x)</c> ×1.1, <c>[x]</c> ÷1.1,
/// <c>(x:w)</c>, nesting and escapes; the tokens of every prompt in chunks of <c>model_max_length − 2</c> with
/// start/end tokens, all rows of the batch (both sides) in as many chunks as its longest prompt or negative prompt
/// needs (77·k positions, k ≤ <see cref="LpwOptions.MaxEmbeddingsMultiples"/>, longer prompts truncated with a
/// warning); every chunk of the batch in one text-encoder call; the weights multiplied into the hidden states and each
/// sample rescaled to its unweighted mean. Thread-safe.
/// </summary>
public sealed class LpwPromptEncoder : IPromptEncoder
{
    /// <summary>The float32 mean (torch's <c>mean</c> is a cascaded sum) is taken as SIMD sums of blocks of this many
    /// elements, added in double.</summary>
    private const int MeanBlock = 1024;

    private readonly LpwOptions _options;

    /// <summary>Creates the encoder.</summary>
    /// <param name="options">The options; the defaults when <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public LpwPromptEncoder(LpwOptions? options = null)
    {
        _options = options ?? new LpwOptions();
        _options.Validate();
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">A weight is not a number or not finite (the message names its position and,
    /// in a batch of several, the prompt).</exception>
    public PromptEmbeddings Encode(IReadOnlyList<string> prompts, IReadOnlyList<string>? negativePrompts, PromptEncoderContext context,
        CancellationToken cancellationToken = default)
    {
        PromptBatch.Validate(prompts, negativePrompts, context);
        LpwTokens[] positive = TokenizeAll(prompts, context, nameof(prompts), cancellationToken);
        LpwTokens[]? negative = negativePrompts is null ? null : TokenizeAll(negativePrompts, context, nameof(negativePrompts), cancellationToken);
        // get_prompts_with_weights warns once per list it tokenizes (the prompts, then the negative prompts).
        WarnIfTruncated(positive, context);
        if (negative is not null)
        {
            WarnIfTruncated(negative, context);
        }

        // The chunk count is the one of the longest prompt or negative prompt of the whole batch; every row of both
        // sides is padded to it (pad_tokens_and_weights with one max_length).
        IPromptTokenizer tokenizer = context.Tokenizer;
        int chunk = tokenizer.ModelMaxLength;
        int content = chunk - 2;
        int longest = positive.Max(t => t.Ids.Count);
        if (negative is not null)
        {
            longest = Math.Max(longest, negative.Max(t => t.Ids.Count));
        }
        int multiples = Math.Max(1, Math.Min(_options.MaxEmbeddingsMultiples, FloorDiv(longest - 1, content) + 1));

        var batch = new EncoderBatch(chunk);
        int[][] positiveRows = positive.Select(t => AddRows(batch, t, multiples, tokenizer)).ToArray();
        int[][]? negativeRows = negative?.Select(t => AddRows(batch, t, multiples, tokenizer)).ToArray();
        batch.Run(context, cancellationToken);

        Tensor<float> positiveStates = Assemble(batch, positiveRows, positive, multiples, chunk);
        Tensor<float>? negativeStates = negative is null ? null : Assemble(batch, negativeRows!, negative, multiples, chunk);
        return new PromptEmbeddings(positiveStates, negativeStates);
    }

    private LpwTokens[] TokenizeAll(IReadOnlyList<string> texts, PromptEncoderContext context, string paramName, CancellationToken cancellationToken)
    {
        var tokens = new LpwTokens[texts.Count];
        for (int i = 0; i < tokens.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            tokens[i] = PromptBatch.ForPrompt((text, name) => Tokenize(text, context, name), texts, i, paramName);
        }
        return tokens;
    }

    private static void WarnIfTruncated(LpwTokens[] tokens, PromptEncoderContext context)
    {
        if (Array.Exists(tokens, t => t.Truncated))
        {
            (context.Logger ?? DiffusionLogging.CreateLogger<LpwPromptEncoder>())
                .LogWarning("Prompt was truncated. Try to shorten the prompt or increase max_embeddings_multiples");
        }
    }

    /// <summary>get_prompts_with_weights for one prompt: content ids (no start/end token) and one weight per id.</summary>
    internal LpwTokens Tokenize(string text, PromptEncoderContext context, string paramName)
    {
        IPromptTokenizer tokenizer = context.Tokenizer;
        int maxLength = (tokenizer.ModelMaxLength - 2) * _options.MaxEmbeddingsMultiples;
        var ids = new List<int>();
        var weights = new List<float>();
        bool truncated = false;
        foreach (WeightedText run in LpwPromptParser.Parse(text, paramName))
        {
            float weight = (float)run.Weight;
            if (!float.IsFinite(weight))
            {
                throw new ArgumentException(
                    $"The weight of the text at position {run.Position} is {PythonFloat.Format(run.Weight)}, which is not a finite float32.", paramName);
            }
            int[] encoded = tokenizer.Encode(run.Text);
            for (int i = 1; i < encoded.Length - 1; i++)
            {
                ids.Add(encoded[i]);
                weights.Add(weight);
            }
            if (ids.Count > maxLength)
            {
                truncated = true;
                break;
            }
        }
        if (ids.Count > maxLength)
        {
            ids.RemoveRange(maxLength, ids.Count - maxLength);
            weights.RemoveRange(maxLength, weights.Count - maxLength);
        }
        return new LpwTokens(ids, weights, truncated);
    }

    private static int[] AddRows(EncoderBatch batch, LpwTokens tokens, int multiples, IPromptTokenizer tokenizer)
    {
        int chunk = tokenizer.ModelMaxLength;
        int content = chunk - 2;
        var rows = new int[multiples];
        for (int c = 0; c < multiples; c++)
        {
            // pad_tokens_and_weights lays out [bos] + ids + [pad]… + [eos]; get_unweighted_text_embeddings then cuts
            // chunk c from it and covers its ends with the start and end tokens.
            var row = new int[chunk];
            row[0] = tokenizer.BosTokenId;
            row[^1] = tokenizer.EosTokenId;
            for (int p = 1; p < chunk - 1; p++)
            {
                int index = (c * content) + p - 1;
                row[p] = index < tokens.Ids.Count ? tokens.Ids[index] : tokenizer.PadTokenId;
            }
            rows[c] = batch.Add(row, null);
        }
        return rows;
    }

    private static Tensor<float> Assemble(EncoderBatch batch, int[][] rows, LpwTokens[] tokens, int multiples, int chunk)
    {
        int hidden = batch.HiddenSize;
        int tokenCount = multiples * chunk;
        int size = tokenCount * hidden;
        // Every element is written below: no need to clear the (large) array first.
        float[] data = GC.AllocateUninitializedArray<float>(checked(rows.Length * size));
        for (int b = 0; b < rows.Length; b++)
        {
            AssembleSample(batch, rows[b], tokens[b], chunk, data.AsSpan(b * size, size));
        }
        return TensorShapes.Wrap(data, rows.Length, tokenCount, hidden);
    }

    /// <summary>One sample: its chunks' states, the weights multiplied in and its own mean restored (the means are
    /// taken per sample, over tokens and hidden).</summary>
    /// <remarks>The states are copied and summed, then weighted and summed again, one <see cref="MeanBlock"/> at a
    /// time while the block is in the cache: the same float32 products and the same block sums as copying, taking the
    /// mean, weighting and taking the mean in whole passes.</remarks>
    private static void AssembleSample(EncoderBatch batch, int[] rows, LpwTokens tokens, int chunk, Span<float> data)
    {
        int hidden = batch.HiddenSize;
        int chunkSize = chunk * hidden;
        if (tokens.Weights.TrueForAll(w => w == 1f))
        {
            // Multiplying by ones and by previous/current = 1 leaves the states as they are.
            for (int c = 0; c < rows.Length; c++)
            {
                batch.Row(rows[c]).CopyTo(data.Slice(c * chunkSize, chunkSize));
            }
            return;
        }
        double previousSum = 0;
        for (int start = 0; start < data.Length; start += MeanBlock)
        {
            int length = Math.Min(MeanBlock, data.Length - start);
            // The block's states, from one chunk's row or from two.
            for (int at = start; at < start + length;)
            {
                int c = at / chunkSize;
                int offset = at - (c * chunkSize);
                int n = Math.Min(start + length - at, chunkSize - offset);
                batch.Row(rows[c]).Slice(offset, n).CopyTo(data.Slice(at, n));
                at += n;
            }
            previousSum += TensorPrimitives.Sum(data.Slice(start, length));
        }
        float previousMean = (float)(previousSum / data.Length);

        double currentSum = 0;
        for (int start = 0; start < data.Length; start += MeanBlock)
        {
            int length = Math.Min(MeanBlock, data.Length - start);
            // The weights of the tokens the block covers (a token's hidden states may span two blocks).
            for (int p = start / hidden; p * hidden < start + length; p++)
            {
                float weight = TokenWeight(tokens, p, chunk);
                if (weight != 1f)
                {
                    int from = Math.Max(start, p * hidden);
                    int to = Math.Min(start + length, (p + 1) * hidden);
                    Span<float> slice = data.Slice(from, to - from);
                    TensorPrimitives.Multiply(slice, weight, slice);
                }
            }
            currentSum += TensorPrimitives.Sum(data.Slice(start, length));
        }
        float currentMean = (float)(currentSum / data.Length);
        TensorPrimitives.Multiply(data, previousMean / currentMean, data);
    }

    /// <summary>The weight of token <paramref name="p"/> of a sample: 1 on every chunk's start and end token and past
    /// the prompt's tokens.</summary>
    private static float TokenWeight(LpwTokens tokens, int p, int chunk)
    {
        int c = p / chunk;
        int offset = p % chunk;
        if (offset == 0 || offset == chunk - 1)
        {
            return 1f;
        }
        int index = (c * (chunk - 2)) + offset - 1;
        return index < tokens.Weights.Count ? tokens.Weights[index] : 1f;
    }

    private static int FloorDiv(int a, int b) => (int)Math.Floor(a / (double)b);
}

/// <summary>The content ids of one lpw prompt and their weights.</summary>
internal sealed record LpwTokens(List<int> Ids, List<float> Weights, bool Truncated);
