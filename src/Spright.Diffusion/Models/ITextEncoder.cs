using System.Numerics.Tensors;

namespace Spright.Diffusion.Models;

/// <summary>
/// A text encoder (CLIP's <c>CLIPTextModel</c> for SD 2.x / SPRIGHT): token ids in, per-token hidden states out.
/// Implementations must be safe to call from several threads at once.
/// </summary>
public interface ITextEncoder : IDisposable
{
    /// <summary>The width of the hidden states (1024 for SD 2.x, 32 for the tiny test model), or
    /// <see langword="null"/> when the model only tells at run time.</summary>
    int? HiddenSize { get; }

    /// <summary>Encodes a batch of token id rows into <c>last_hidden_state</c>.</summary>
    /// <param name="inputIds">Row-major ids, <paramref name="batchSize"/> rows of equal length.</param>
    /// <param name="batchSize">The number of rows.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>A float32 tensor [batch, sequence, hidden].</returns>
    Tensor<float> Encode(ReadOnlySpan<int> inputIds, int batchSize, CancellationToken cancellationToken = default);
}
