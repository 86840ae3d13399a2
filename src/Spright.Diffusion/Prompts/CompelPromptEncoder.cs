using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// Weighted prompts in compel 2.2.1's syntax, giving what <c>Compel(tokenizer, text_encoder,
/// truncate_long_prompts=…)</c> gives (compel's defaults otherwise: down-weighting by masking, last hidden states,
/// long texts split at sentence, phrase or word ends): <c>word+</c> / <c>word-</c> (×1.1 / ×0.9 per
/// sign), <c>(words)1.3</c>, nesting, <c>.attend()</c>, <c>.blend()</c>, <c>.and()</c> (concatenation along the
/// tokens), <c>.swap()</c> (the original's embeddings), <c>.withLora()</c> (ignored, as compel ignores it). Weights
/// above 1 scale each token's distance from the empty prompt; weights below 1 blend towards the prompt encoded with
/// that fragment masked out, which needs a text encoder implementing <see cref="IAttentionMaskTextEncoder"/>. A batch
/// is what <c>compel(prompts)</c> and <c>compel(negative_prompts)</c> give, padded to one length with
/// <c>pad_conditioning_tensors_to_same_length</c>; every text-encoder row of the batch runs in one call. Thread-safe.
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
    /// <exception cref="ArgumentException">compel cannot parse or use a prompt (the message names the position and, in
    /// a batch of several, the prompt), or a prompt needs more than <see cref="CompelOptions.MaxChunks"/> chunks.</exception>
    /// <exception cref="NotSupportedException">A prompt down-weights a fragment and the text encoder takes no
    /// attention mask.</exception>
    public PromptEmbeddings Encode(IReadOnlyList<string> prompts, IReadOnlyList<string>? negativePrompts, PromptEncoderContext context,
        CancellationToken cancellationToken = default)
    {
        PromptBatch.Validate(prompts, negativePrompts, context);
        var plan = new CompelPlan(context.Tokenizer, _options.TruncateLongPrompts);
        CompelPlan.Node[] positive = Conditionings(plan, prompts, nameof(prompts), context.Tokenizer.ModelMaxLength, cancellationToken);
        CompelPlan.Node[]? negative = negativePrompts is null
            ? null
            : Conditionings(plan, negativePrompts, nameof(negativePrompts), context.Tokenizer.ModelMaxLength, cancellationToken);

        // Compel.__call__ pads the conditionings of its list to one length, and pad_conditioning_tensors_to_same_length
        // then pads the prompts' and the negative prompts' to one: every row ends up padded with empty-prompt chunks
        // to the longest conditioning of the batch.
        int longest = positive.Max(n => n.Tokens);
        if (negative is not null)
        {
            longest = Math.Max(longest, negative.Max(n => n.Tokens));
        }
        PadAll(plan, positive, longest);
        if (negative is not null)
        {
            PadAll(plan, negative, longest);
        }

        plan.Batch.Run(context, cancellationToken);
        Tensor<float> positiveStates = Evaluate(plan, positive, longest);
        Tensor<float>? negativeStates = negative is null ? null : Evaluate(plan, negative, longest);
        return new PromptEmbeddings(positiveStates, negativeStates);
    }

    /// <summary>The token work of each prompt (build_conditioning_tensor), every text-encoder row collected in the plan,
    /// with the bounds checked per prompt.</summary>
    private CompelPlan.Node[] Conditionings(CompelPlan plan, IReadOnlyList<string> texts, string paramName, int chunk, CancellationToken cancellationToken)
    {
        var nodes = new CompelPlan.Node[texts.Count];
        for (int i = 0; i < nodes.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            nodes[i] = PromptBatch.ForPrompt((text, name) =>
            {
                int rowsBefore = plan.Batch.Count;
                CompelPlan.Node node = plan.Conditioning(CompelPromptParser.Default.Parse(text, name), name);
                if (node.Tokens / chunk > _options.MaxChunks)
                {
                    throw new ArgumentException(
                        $"The prompt needs {node.Tokens / chunk} chunks of {chunk} tokens; CompelOptions.MaxChunks allows {_options.MaxChunks}.", name);
                }
                int rows = plan.Batch.Count - rowsBefore;
                if (rows > MaxRowsPerChunkLimit * _options.MaxChunks)
                {
                    throw new ArgumentException(
                        $"The prompt needs {rows} text-encoder rows (every down-weighted fragment encodes its prompt again); at most {MaxRowsPerChunkLimit * _options.MaxChunks} are allowed.",
                        name);
                }
                return node;
            }, texts, i, paramName);
        }
        return nodes;
    }

    private static void PadAll(CompelPlan plan, CompelPlan.Node[] nodes, int tokens)
    {
        for (int i = 0; i < nodes.Length; i++)
        {
            nodes[i] = plan.PadTo(nodes[i], tokens);
        }
    }

    private static Tensor<float> Evaluate(CompelPlan plan, CompelPlan.Node[] nodes, int tokens)
    {
        int hidden = plan.Batch.HiddenSize;
        int size = tokens * hidden;
        // Every element is written below: no need to clear the (large) array first.
        float[] data = GC.AllocateUninitializedArray<float>(checked(nodes.Length * size));
        for (int b = 0; b < nodes.Length; b++)
        {
            plan.Evaluate(nodes[b], data.AsSpan(b * size, size));
        }
        return TensorShapes.Wrap(data, nodes.Length, tokens, hidden);
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
        return plan.ChunkAndPad(fragments.Select(f => f.Text).ToList(), fragments.Select(f => f.Weight).ToList());
    }
}
