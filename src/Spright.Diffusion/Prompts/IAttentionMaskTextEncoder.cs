using System.Numerics.Tensors;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// A text encoder that also takes transformers' <c>attention_mask</c> (1 = attend, 0 = leave the token out as a key).
/// compel down-weights fragments (weights below 1) by encoding the prompt again with their tokens masked; a text
/// encoder (<see cref="Components.ITextEncoder"/>) that implements this interface makes that possible.
/// </summary>
public interface IAttentionMaskTextEncoder
{
    /// <summary>Encodes a batch of token id rows with their attention masks into <c>last_hidden_state</c>.</summary>
    /// <param name="inputIds">Row-major ids, <paramref name="batchSize"/> rows of equal length.</param>
    /// <param name="attentionMask">One 0/1 entry per id.</param>
    /// <param name="batchSize">The number of rows.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>A float32 tensor [batch, sequence, hidden].</returns>
    Tensor<float> Encode(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batchSize, CancellationToken cancellationToken = default);
}
