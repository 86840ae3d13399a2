using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// diffusers' <c>encode_prompt</c> without weighting: both prompts padded and truncated to the tokenizer's
/// <c>model_max_length</c> (the cut-off part of the prompt is logged, as diffusers logs it), both rows in one
/// text-encoder call. <see cref="PromptWeighting.None"/>. Thread-safe.
/// </summary>
public sealed class TruncatingPromptEncoder : IPromptEncoder
{
    /// <inheritdoc />
    /// <exception cref="ArgumentNullException">The prompt or the context is null.</exception>
    public PromptEmbeddingPair Encode(string prompt, string? negativePrompt, PromptEncoderContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(context);
        int length = context.Tokenizer.ModelMaxLength;
        var batch = new EncoderBatch(length);
        int positive = batch.Add(context.Tokenizer.EncodeBatchPadded([prompt])[0], null);
        int? negative = negativePrompt is null ? null : batch.Add(context.Tokenizer.EncodePadded(negativePrompt), null);
        batch.Run(context, cancellationToken);
        return new PromptEmbeddingPair(Wrap(batch, positive, length), negative is int n ? Wrap(batch, n, length) : null);
    }

    private static Tensor<float> Wrap(EncoderBatch batch, int row, int length) =>
        TensorShapes.Wrap(batch.Row(row).ToArray(), 1, length, batch.HiddenSize);
}
