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
        var data = new float[checked(rows.Length * size)];
        for (int b = 0; b < rows.Length; b++)
        {
            AssembleSample(batch, rows[b], tokens[b], chunk, data.AsSpan(b * size, size));
        }
        return TensorShapes.Wrap(data, rows.Length, tokenCount, hidden);
    }

    /// <summary>One sample: its chunks' states, the weights multiplied in and its own mean restored (the means are
    /// taken per sample, over tokens and hidden).</summary>
    private static void AssembleSample(EncoderBatch batch, int[] rows, LpwTokens tokens, int chunk, Span<float> data)
    {
        int hidden = batch.HiddenSize;
        int content = chunk - 2;
        for (int c = 0; c < rows.Length; c++)
        {
            batch.Row(rows[c]).CopyTo(data.Slice(c * chunk * hidden, chunk * hidden));
        }
        if (tokens.Weights.TrueForAll(w => w == 1f))
        {
            // Multiplying by ones and by previous/current = 1 leaves the states as they are.
            return;
        }
        float previousMean = Mean(data);
        int tokenCount = rows.Length * chunk;
        for (int p = 0; p < tokenCount; p++)
        {
            int c = p / chunk;
            int offset = p % chunk;
            float weight = 1f;
            if (offset != 0 && offset != chunk - 1)
            {
                int index = (c * content) + offset - 1;
                if (index < tokens.Weights.Count)
                {
                    weight = tokens.Weights[index];
                }
            }
            if (weight != 1f)
            {
                TensorPrimitives.Multiply(data.Slice(p * hidden, hidden), weight, data.Slice(p * hidden, hidden));
            }
        }
        float currentMean = Mean(data);
        TensorPrimitives.Multiply(data, previousMean / currentMean, data);
    }

    /// <summary>The float32 mean (torch's <c>mean</c> is a cascaded sum): SIMD sums of 1024-element blocks added in double.</summary>
    private static float Mean(ReadOnlySpan<float> values)
    {
        double sum = 0;
        for (int start = 0; start < values.Length; start += 1024)
        {
            sum += TensorPrimitives.Sum(values.Slice(start, Math.Min(1024, values.Length - start)));
        }
        return (float)(sum / values.Length);
    }

    private static int FloorDiv(int a, int b) => (int)Math.Floor(a / (double)b);
}

/// <summary>The content ids of one lpw prompt and their weights.</summary>
internal sealed record LpwTokens(List<int> Ids, List<float> Weights, bool Truncated);
