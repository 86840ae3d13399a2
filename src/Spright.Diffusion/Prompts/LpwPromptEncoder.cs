using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// Weighted and long prompts in AUTOMATIC1111's syntax, giving the embeddings of diffusers v0.31.0's community
/// <c>lpw_stable_diffusion.get_weighted_text_embeddings(pipe, prompt, negative_prompt, max_embeddings_multiples)</c>
/// (its defaults otherwise: <c>no_boseos_middle=False</c>, no clip skip): <c>(x)</c> ×1.1, <c>[x]</c> ÷1.1,
/// <c>(x:w)</c>, nesting and escapes; the tokens of both prompts in chunks of <c>model_max_length − 2</c> with
/// start/end tokens (77·k positions, k ≤ <see cref="LpwOptions.MaxEmbeddingsMultiples"/>, longer prompts truncated
/// with a warning); every chunk of both sides in one text-encoder call; the weights multiplied into the hidden
/// states and each side rescaled to its unweighted mean. Thread-safe.
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
    /// <exception cref="ArgumentNullException">The prompt or the context is null.</exception>
    /// <exception cref="ArgumentException">A weight is not a number or not finite (the message names its position).</exception>
    public PromptEmbeddingPair Encode(string prompt, string? negativePrompt, PromptEncoderContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(context);
        LpwTokens positive = Tokenize(prompt, context, nameof(prompt));
        LpwTokens? negative = negativePrompt is null ? null : Tokenize(negativePrompt, context, nameof(negativePrompt));
        if (positive.Truncated || negative?.Truncated == true)
        {
            (context.Logger ?? DiffusionLogging.CreateLogger<LpwPromptEncoder>())
                .LogWarning("Prompt was truncated. Try to shorten the prompt or increase max_embeddings_multiples");
        }

        IPromptTokenizer tokenizer = context.Tokenizer;
        int chunk = tokenizer.ModelMaxLength;
        int content = chunk - 2;
        int longest = Math.Max(positive.Ids.Count, negative?.Ids.Count ?? 0);
        int multiples = Math.Max(1, Math.Min(_options.MaxEmbeddingsMultiples, FloorDiv(longest - 1, content) + 1));

        var batch = new EncoderBatch(chunk);
        int[] positiveRows = AddRows(batch, positive, multiples, tokenizer);
        int[]? negativeRows = negative is null ? null : AddRows(batch, negative, multiples, tokenizer);
        batch.Run(context, cancellationToken);

        Tensor<float> positiveStates = Assemble(batch, positiveRows, positive, multiples, chunk);
        Tensor<float>? negativeStates = negative is null ? null : Assemble(batch, negativeRows!, negative, multiples, chunk);
        return new PromptEmbeddingPair(positiveStates, negativeStates);
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

    private static Tensor<float> Assemble(EncoderBatch batch, int[] rows, LpwTokens tokens, int multiples, int chunk)
    {
        int hidden = batch.HiddenSize;
        int content = chunk - 2;
        int tokenCount = multiples * chunk;
        var data = new float[tokenCount * hidden];
        for (int c = 0; c < multiples; c++)
        {
            batch.Row(rows[c]).CopyTo(data.AsSpan(c * chunk * hidden, chunk * hidden));
        }
        if (tokens.Weights.TrueForAll(w => w == 1f))
        {
            // Multiplying by ones and by previous/current = 1 leaves the states as they are.
            return TensorShapes.Wrap(data, 1, tokenCount, hidden);
        }
        float previousMean = Mean(data);
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
                TensorPrimitives.Multiply(data.AsSpan(p * hidden, hidden), weight, data.AsSpan(p * hidden, hidden));
            }
        }
        float currentMean = Mean(data);
        TensorPrimitives.Multiply(data, previousMean / currentMean, data);
        return TensorShapes.Wrap(data, 1, tokenCount, hidden);
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
