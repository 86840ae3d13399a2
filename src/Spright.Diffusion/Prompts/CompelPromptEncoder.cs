using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// Weighted prompts in compel 2.2.1's syntax, giving what <c>Compel(tokenizer, text_encoder,
/// truncate_long_prompts=…)</c> gives (compel's defaults otherwise: down-weighting by masking, last hidden states,
/// long texts split at sentence, phrase or word ends), with the prompt and the negative prompt padded to the same
/// length as <c>pad_conditioning_tensors_to_same_length</c> pads them: <c>word+</c> / <c>word-</c> (×1.1 / ×0.9 per
/// sign), <c>(words)1.3</c>, nesting, <c>.attend()</c>, <c>.blend()</c>, <c>.and()</c> (concatenation along the
/// tokens), <c>.swap()</c> (the original's embeddings), <c>.withLora()</c> (ignored, as compel ignores it). Weights
/// above 1 scale each token's distance from the empty prompt; weights below 1 blend towards the prompt encoded with
/// that fragment masked out, which needs a text encoder implementing <see cref="IAttentionMaskTextEncoder"/>. Every
/// text-encoder row of both prompts runs in one call. Thread-safe.
/// </summary>
public sealed class CompelPromptEncoder : IPromptEncoder
{
    private const int MaxRowsPerChunkLimit = 16;
    private readonly CompelOptions _options;

    /// <summary>Creates the encoder.</summary>
    /// <param name="options">The options; the defaults when <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public CompelPromptEncoder(CompelOptions? options = null)
    {
        _options = options ?? new CompelOptions();
        _options.Validate();
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException">The prompt or the context is null.</exception>
    /// <exception cref="ArgumentException">compel cannot parse or use the prompt (the message names the position), or
    /// it needs more than <see cref="CompelOptions.MaxChunks"/> chunks.</exception>
    /// <exception cref="NotSupportedException">The prompt down-weights a fragment and the text encoder takes no
    /// attention mask.</exception>
    public PromptEmbeddingPair Encode(string prompt, string? negativePrompt, PromptEncoderContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(context);
        CompelConjunction positive = CompelPromptParser.Default.Parse(prompt, nameof(prompt));
        CompelConjunction? negative = negativePrompt is null ? null : CompelPromptParser.Default.Parse(negativePrompt, nameof(negativePrompt));

        var plan = new CompelPlan(context.Tokenizer, _options.TruncateLongPrompts);
        CompelPlan.Node positiveNode = plan.Conditioning(positive, nameof(prompt));
        CompelPlan.Node? negativeNode = negative is null ? null : plan.Conditioning(negative, nameof(negativePrompt));
        if (negativeNode is not null && negativeNode.Tokens != positiveNode.Tokens)
        {
            int longest = Math.Max(positiveNode.Tokens, negativeNode.Tokens);
            positiveNode = plan.PadTo(positiveNode, longest);
            negativeNode = plan.PadTo(negativeNode, longest);
        }
        int chunk = context.Tokenizer.ModelMaxLength;
        if (Math.Max(positiveNode.Tokens, negativeNode?.Tokens ?? 0) / chunk > _options.MaxChunks)
        {
            throw new ArgumentException(
                $"The prompts need {Math.Max(positiveNode.Tokens, negativeNode?.Tokens ?? 0) / chunk} chunks of {chunk} tokens; CompelOptions.MaxChunks allows {_options.MaxChunks}.",
                nameof(prompt));
        }
        if (plan.Batch.Count > MaxRowsPerChunkLimit * _options.MaxChunks)
        {
            throw new ArgumentException(
                $"The prompts need {plan.Batch.Count} text-encoder rows (every down-weighted fragment encodes its prompt again); at most {MaxRowsPerChunkLimit * _options.MaxChunks} are allowed.",
                nameof(prompt));
        }

        plan.Batch.Run(context, cancellationToken);
        int hidden = plan.Batch.HiddenSize;
        Tensor<float> positiveStates = TensorShapes.Wrap(plan.Evaluate(positiveNode), 1, positiveNode.Tokens, hidden);
        Tensor<float>? negativeStates = negativeNode is null ? null : TensorShapes.Wrap(plan.Evaluate(negativeNode), 1, negativeNode.Tokens, hidden);
        return new PromptEmbeddingPair(positiveStates, negativeStates);
    }

    /// <summary>The token ids compel builds for a prompt (its first part when the prompt has several): the chunked
    /// and padded ids, their weights and the attention mask (for tests and tools).</summary>
    internal static (int[] Ids, float[] Weights, int[] Mask) TokenIds(string prompt, IPromptTokenizer tokenizer, bool truncate)
    {
        CompelConjunction conjunction = CompelPromptParser.Default.Parse(prompt);
        var plan = new CompelPlan(tokenizer, truncate);
        var flattened = conjunction.Prompts[0] as CompelFlattenedPrompt
            ?? (CompelFlattenedPrompt)((CompelBlend)conjunction.Prompts[0]).Prompts[0];
        var fragments = flattened.Children.OfType<CompelFragment>().ToList();
        (List<int> ids, List<float> weights, List<int> mask) = plan.ChunkAndPad(fragments.Select(f => f.Text).ToList(), fragments.Select(f => f.Weight).ToList());
        return (ids.ToArray(), weights.ToArray(), mask.ToArray());
    }
}
