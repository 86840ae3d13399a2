using System.Numerics.Tensors;

namespace Spright.Diffusion.Components;

/// <summary>
/// A text encoder (transformers' <c>CLIPTextModel</c>): token ids in, per-token hidden states (<c>last_hidden_state</c>)
/// out. Implementations must be safe to call from several threads at once.
/// </summary>
public interface ITextEncoder : IPipelineComponent
{
    /// <summary>The width of the hidden states (1024 for SD 2.x), or <see langword="null"/> when only known at run time.</summary>
    int? HiddenSize { get; }

    /// <summary>The longest id row the encoder takes (<c>max_position_embeddings</c>, 77 for CLIP), or
    /// <see langword="null"/> when not known.</summary>
    int? MaxSequenceLength { get; }

    /// <summary>Encodes a batch of token id rows.</summary>
    /// <param name="inputIds">Row-major ids, <paramref name="batchSize"/> rows of equal length.</param>
    /// <param name="batchSize">The number of rows.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>A float32 tensor [batch, sequence, hidden].</returns>
    Tensor<float> Encode(ReadOnlySpan<int> inputIds, int batchSize, CancellationToken cancellationToken = default);
}
