using System.Diagnostics;
using System.Numerics.Tensors;
using Spright.Diffusion.Components;
using Spright.Diffusion.Diagnostics;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Prompts;
using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Pipelines;

/// <summary>
/// diffusers' <c>encode_prompt</c>: tokenizes (warning about truncated text), encodes, repeats each prompt's embeddings
/// per image and, with guidance, puts the negative embeddings first. Returns the UNet's conditioning
/// [(2·)batch·images, sequence, hidden].
/// </summary>
internal static class PromptEncodingStage
{
    public static PromptEmbeddings Encode(PipelineSnapshot model, IReadOnlyList<string>? prompts, int numImagesPerPrompt, bool guided,
        IReadOnlyList<string>? negativePrompts, Tensor<float>? promptEmbeds, Tensor<float>? negativePromptEmbeds, CancellationToken cancellationToken)
        => Encode(model, prompts, numImagesPerPrompt, guided, negativePrompts, promptEmbeds, negativePromptEmbeds, null, null, cancellationToken);

    /// <summary>As above; with <paramref name="encoder"/> (prompt weighting, a host's syntax) the texts go through it
    /// instead of the plain truncating path.</summary>
    public static PromptEmbeddings Encode(PipelineSnapshot model, IReadOnlyList<string>? prompts, int numImagesPerPrompt, bool guided,
        IReadOnlyList<string>? negativePrompts, Tensor<float>? promptEmbeds, Tensor<float>? negativePromptEmbeds,
        IPromptEncoder? encoder, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numImagesPerPrompt, 1);
        bool needsEncoder = promptEmbeds is null || (guided && negativePromptEmbeds is null);
        using IDisposable? hold = needsEncoder ? model.TextEncoder.Acquire() : null;
        if (encoder is not null && needsEncoder)
        {
            (Tensor<float> p, Tensor<float>? n) = EncodeWith(encoder, model, prompts, guided, negativePrompts, promptEmbeds, negativePromptEmbeds, logger, cancellationToken);
            return new PromptEmbeddings(Repeat(p, numImagesPerPrompt), n is null ? null : Repeat(n, numImagesPerPrompt));
        }
        Tensor<float> positive;
        Tensor<float>? negative = null;
        if (promptEmbeds is null && guided && negativePromptEmbeds is null)
        {
            // Negative prompts and prompts go through the text encoder as one batch: its rows are independent, so the
            // numbers are those of two calls (tested), for the price of one.
            IReadOnlyList<string> texts = prompts ?? throw new ArgumentNullException(nameof(prompts), "Pass prompts or prompt embeddings.");
            IReadOnlyList<string> uncond = NegativeTexts(negativePrompts, texts.Count);
            Tensor<float> both = EncodeTexts(model, uncond, texts, cancellationToken);
            int[] bothShape = both.Shape();
            int half = uncond.Count * bothShape[1] * bothShape[2];
            negative = TensorShapes.Wrap(both.AsSpan()[..half].ToArray(), uncond.Count, bothShape[1], bothShape[2]);
            positive = TensorShapes.Wrap(both.AsSpan()[half..].ToArray(), texts.Count, bothShape[1], bothShape[2]);
        }
        else
        {
            positive = promptEmbeds ?? EncodeTexts(model, [], prompts ?? throw new ArgumentNullException(nameof(prompts), "Pass prompts or prompt embeddings."), cancellationToken);
        }
        int[] shape = positive.Shape();
        int batch = shape[0], sequence = shape[1], hidden = shape[2];

        if (guided && negative is null)
        {
            if (negativePromptEmbeds is not null)
            {
                negative = negativePromptEmbeds;
            }
            else
            {
                IReadOnlyList<string> uncond = NegativeTexts(negativePrompts, batch);
                if (sequence != model.Tokenizer.ModelMaxLength)
                {
                    throw new ArgumentException($"The prompt embeddings have {sequence} tokens but the tokenizer pads to {model.Tokenizer.ModelMaxLength}; pass negative prompt embeddings too.", nameof(negativePromptEmbeds));
                }
                negative = EncodeTexts(model, uncond, [], cancellationToken);
            }
            if (!negative.Lengths.SequenceEqual(positive.Lengths))
            {
                throw new ArgumentException($"Negative prompt embeddings [{string.Join(", ", negative.Shape())}] must have the shape of the prompt embeddings [{string.Join(", ", shape)}].", nameof(negativePromptEmbeds));
            }
        }

        return new PromptEmbeddings(Repeat(positive, numImagesPerPrompt), negative is null ? null : Repeat(negative, numImagesPerPrompt));
    }

    /// <summary>The texts of a call through a prompt encoder: the prompts and (guided, without negative embeddings) the
    /// negative prompts in one batch; given embeddings are used as they are. The encoder's output is checked against
    /// the model (a host's encoder may be wrong), and against a UNet graph whose sequence axis is fixed.</summary>
    private static (Tensor<float> Positive, Tensor<float>? Negative) EncodeWith(IPromptEncoder encoder, PipelineSnapshot model,
        IReadOnlyList<string>? prompts, bool guided, IReadOnlyList<string>? negativePrompts, Tensor<float>? promptEmbeds,
        Tensor<float>? negativePromptEmbeds, ILogger? logger, CancellationToken cancellationToken)
    {
        var context = new PromptEncoderContext(model.Tokenizer, model.TextEncoder, logger);
        long start = Stopwatch.GetTimestamp();
        Tensor<float> positive;
        Tensor<float>? negative = negativePromptEmbeds;
        using (Telemetry.Start(DiffusionDiagnostics.Activities.TextEncoder))
        {
            if (promptEmbeds is null)
            {
                IReadOnlyList<string> texts = prompts ?? throw new ArgumentNullException(nameof(prompts), "Pass prompts or prompt embeddings.");
                IReadOnlyList<string>? uncond = guided && negativePromptEmbeds is null ? NegativeTexts(negativePrompts, texts.Count) : null;
                PromptEmbeddings encoded = encoder.Encode(texts, uncond, context, cancellationToken);
                positive = CheckEncoded(encoded.PromptEmbeds, texts.Count, model, "prompt embeddings");
                if (uncond is not null)
                {
                    negative = CheckEncoded(encoded.NegativePromptEmbeds
                        ?? throw new ArgumentException("The prompt encoder returned no negative prompt embeddings for negative prompts.", nameof(GenerationOptions.PromptEncoder)),
                        texts.Count, model, "negative prompt embeddings");
                }
            }
            else
            {
                positive = promptEmbeds;
                int batch = (int)positive.Lengths[0];
                negative = CheckEncoded(encoder.Encode(NegativeTexts(negativePrompts, batch), null, context, cancellationToken).PromptEmbeds,
                    batch, model, "negative prompt embeddings");
            }
        }
        Telemetry.Record("text_encoder", start);
        if (negative is not null && !negative.Lengths.SequenceEqual(positive.Lengths))
        {
            throw new ArgumentException($"Negative prompt embeddings [{string.Join(", ", negative.Shape())}] must have the shape of the prompt embeddings " +
                $"[{string.Join(", ", positive.Shape())}] (encode both sides with the same prompt weighting).", nameof(negativePromptEmbeds));
        }
        return (positive, negative);
    }

    private static Tensor<float> CheckEncoded(Tensor<float> embeds, int batch, PipelineSnapshot model, string what)
    {
        if (embeds.Rank != 3 || embeds.Lengths[0] != batch || (model.HiddenSize is int hidden && embeds.Lengths[2] != hidden))
        {
            throw new ArgumentException($"The prompt encoder returned {what} of shape [{string.Join(", ", embeds.Shape())}]; expected [{batch}, tokens, {model.HiddenSize?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "hidden"}].",
                nameof(GenerationOptions.PromptEncoder));
        }
        if (model.Unet.Info.FixedSequenceLength is int fixedLength && embeds.Lengths[1] != fixedLength)
        {
            throw new ArgumentException($"The weighted prompt encodes to {embeds.Lengths[1]} tokens but this UNet graph takes exactly {fixedLength} " +
                "(its sequence axis is fixed): shorten the prompt, use PromptWeighting.None, or a model whose UNet has a dynamic sequence axis.",
                nameof(GenerationOptions.PromptWeighting));
        }
        return embeds;
    }

    /// <summary>The negative prompts of a guided call: the given ones (one per prompt) or empty strings.</summary>
    private static IReadOnlyList<string> NegativeTexts(IReadOnlyList<string>? negativePrompts, int batch)
    {
        IReadOnlyList<string> uncond = negativePrompts ?? Enumerable.Repeat(string.Empty, batch).ToArray();
        if (uncond.Count != batch)
        {
            throw new ArgumentException($"{uncond.Count} negative prompts were given for {batch} prompts; give none, or one per prompt.", nameof(negativePrompts));
        }
        return uncond;
    }

    /// <summary>Tokenizes <paramref name="negatives"/> then <paramref name="texts"/> and encodes them in one text-encoder call.</summary>
    private static Tensor<float> EncodeTexts(PipelineSnapshot model, IReadOnlyList<string> negatives, IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        int max = model.Tokenizer.ModelMaxLength;
        var ids = new int[checked((negatives.Count + texts.Count) * max)];
        int rows = 0;
        using (Telemetry.Start(DiffusionDiagnostics.Activities.Tokenize))
        {
            // The batch call logs diffusers' truncation warning for prompts; negative prompts are tokenized without it, as in diffusers.
            foreach (string negative in negatives)
            {
                cancellationToken.ThrowIfCancellationRequested();
                CopyRow(model.Tokenizer.EncodePadded(negative), ids, rows++, max);
            }
            if (texts.Count > 0)
            {
                foreach (int[] row in model.Tokenizer.EncodeBatchPadded(texts))
                {
                    CopyRow(row, ids, rows++, max);
                }
            }
        }
        Telemetry.Record("tokenize", start);
        long encodeStart = Stopwatch.GetTimestamp();
        Tensor<float> hidden;
        using (Telemetry.Start(DiffusionDiagnostics.Activities.TextEncoder))
        {
            hidden = model.TextEncoder.Encode(ids, rows, cancellationToken);
        }
        Telemetry.Record("text_encoder", encodeStart);
        if (model.TextEncoder.HiddenSize is int expected && hidden.Lengths[2] != expected)
        {
            throw new InferenceException("text_encoder", $"returned {hidden.Lengths[2]}-wide states, expected {expected}");
        }
        return hidden;
    }

    private static void CopyRow(int[] row, int[] ids, int index, int max)
    {
        if (row.Length != max)
        {
            throw new InvalidOperationException($"The tokenizer returned {row.Length} ids instead of {max}.");
        }
        row.CopyTo(ids, index * max);
    }

    /// <summary>Each row of <paramref name="source"/> [batch, sequence, hidden] repeated <paramref name="times"/> times
    /// (diffusers' <c>repeat</c> + <c>view</c>: p0, p0, p1, p1).</summary>
    private static Tensor<float> Repeat(Tensor<float> source, int times)
    {
        int[] shape = source.Shape();
        if (times == 1)
        {
            return source;
        }
        int per = shape[1] * shape[2];
        ReadOnlySpan<float> data = source.AsSpan();
        var result = new float[checked(shape[0] * times * per)];
        int at = 0;
        for (int b = 0; b < shape[0]; b++)
        {
            for (int n = 0; n < times; n++)
            {
                data.Slice(b * per, per).CopyTo(result.AsSpan(at, per));
                at += per;
            }
        }
        return TensorShapes.Wrap(result, shape[0] * times, shape[1], shape[2]);
    }
}
