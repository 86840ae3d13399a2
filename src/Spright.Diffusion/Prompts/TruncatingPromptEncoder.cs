using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// diffusers' <c>encode_prompt</c> without weighting: every prompt and negative prompt padded and truncated to the
/// tokenizer's <c>model_max_length</c> (the cut-off part of the prompts is logged, as diffusers logs it; negative
/// prompts are cut silently, as there), all rows of both sides in one text-encoder call. <see cref="PromptWeighting.None"/>.
/// Thread-safe.
/// </summary>
public sealed class TruncatingPromptEncoder : IPromptEncoder
{
    /// <inheritdoc />
    public PromptEmbeddings Encode(IReadOnlyList<string> prompts, IReadOnlyList<string>? negativePrompts, PromptEncoderContext context,
        CancellationToken cancellationToken = default)
    {
        PromptBatch.Validate(prompts, negativePrompts, context);
        int length = context.Tokenizer.ModelMaxLength;
        var batch = new EncoderBatch(length);
        int[] positive = context.Tokenizer.EncodeBatchPadded(prompts).Select(ids => batch.Add(ids, null)).ToArray();
        int[]? negative = negativePrompts?.Select(text => batch.Add(context.Tokenizer.EncodePadded(text), null)).ToArray();
        batch.Run(context, cancellationToken);
        return new PromptEmbeddings(Gather(batch, positive, length), negative is null ? null : Gather(batch, negative, length));
    }

    private static Tensor<float> Gather(EncoderBatch batch, int[] rows, int length)
    {
        int size = length * batch.HiddenSize;
        var data = new float[checked(rows.Length * size)];
        for (int b = 0; b < rows.Length; b++)
        {
            batch.Row(rows[b]).CopyTo(data.AsSpan(b * size, size));
        }
        return TensorShapes.Wrap(data, rows.Length, length, batch.HiddenSize);
    }
}
