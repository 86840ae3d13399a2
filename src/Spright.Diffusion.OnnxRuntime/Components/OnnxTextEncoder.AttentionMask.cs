using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.OnnxRuntime.Sessions;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Spright.Diffusion.OnnxRuntime.Components;

// The attention-mask side of the text encoder (what compel's down-weighting needs): a graph with an attention_mask
// input gets the caller's mask; a graph without one (optimum's export) runs a second session on the same graph with
// the input added (TextEncoderAttentionMaskPatch), made on first use.
internal sealed partial class OnnxTextEncoder
{
    private readonly Lock _maskedLock = new();
    private InferenceSession? _maskedSession;
    private string? _maskedProblem;

    /// <summary>Encodes id rows with transformers' <c>attention_mask</c> (1 = attend, 0 = masked key).</summary>
    /// <param name="inputIds">Row-major ids, <paramref name="batchSize"/> rows of equal length.</param>
    /// <param name="attentionMask">One 0/1 entry per id.</param>
    /// <param name="batchSize">The number of rows.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>A float32 tensor [batch, sequence, hidden].</returns>
    /// <exception cref="ArgumentException">The rows are uneven or the mask does not match the ids.</exception>
    /// <exception cref="NotSupportedException">The graph takes no mask and cannot be given one.</exception>
    public Tensor<float> Encode(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batchSize, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (batchSize <= 0 || inputIds.Length == 0 || inputIds.Length % batchSize != 0)
        {
            throw new ArgumentException($"{inputIds.Length} ids cannot form {batchSize} equal rows.", nameof(inputIds));
        }
        if (attentionMask.Length != inputIds.Length)
        {
            throw new ArgumentException($"The attention mask has {attentionMask.Length} entries for {inputIds.Length} ids.", nameof(attentionMask));
        }
        int sequence = inputIds.Length / batchSize;
        if (_inputIds.Fixed(1) is int fixedLength && fixedLength != sequence)
        {
            throw new ArgumentException($"The text encoder takes sequences of exactly {fixedLength} tokens, got {sequence}.", nameof(inputIds));
        }
        InferenceSession session;
        TensorElementType maskType;
        if (_attentionMask is TensorPort port)
        {
            session = Session;
            maskType = port.ElementType;
        }
        else
        {
            session = MaskedSession();
            maskType = TensorElementType.Int64;
        }

        using OrtTensorBuffer ids = OrtTensorBuffer.Create(_inputIds.ElementType, batchSize, sequence);
        ids.WriteIds(inputIds);
        using OrtTensorBuffer mask = OrtTensorBuffer.Create(maskType, batchSize, sequence);
        mask.WriteIds(attentionMask);
        string maskName = _attentionMask?.Name ?? TextEncoderAttentionMaskPatch.InputName;
        using RunOptions runOptions = CreateRunOptions(releaseMemory: true);
        using IDisposableReadOnlyCollection<OrtValue> outputs = RunCancellable(runOptions,
            () => session.Run(runOptions, [_inputIds.Name, maskName], [ids.Value, mask.Value], [_hiddenStates.Name]), cancellationToken);
        OrtValue output = outputs[0];
        long[] shape = output.GetTensorTypeAndShape().Shape;
        if (shape.Length != 3 || shape[0] != batchSize || shape[1] != sequence)
        {
            throw new InvalidOperationException($"{ModelPath}: last_hidden_state came back as [{string.Join(", ", shape)}], expected [{batchSize}, {sequence}, hidden].");
        }
        var data = new float[checked((int)(shape[0] * shape[1] * shape[2]))];
        OrtTensorBuffer.ReadValue(output, _hiddenStates.ElementType, data);
        return TensorShapes.Wrap(data, batchSize, sequence, (int)shape[2]);
    }

    private InferenceSession MaskedSession()
    {
        lock (_maskedLock)
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            if (_maskedSession is not null)
            {
                return _maskedSession;
            }
            if (_maskedProblem is null)
            {
                var info = new FileInfo(ModelPath);
                if (info.Length > Array.MaxLength - (1 << 20))
                {
                    _maskedProblem = "the graph file is too large to patch in memory";
                }
                else
                {
                    byte[] model = File.ReadAllBytes(ModelPath);
                    _maskedProblem = TextEncoderAttentionMaskPatch.TryPatch(model, out byte[]? patched);
                    if (_maskedProblem is null)
                    {
                        _maskedSession = SessionFactory.CreateFromBytes(patched!, ModelPath, ComponentName, Settings, Logger);
                        return _maskedSession;
                    }
                }
            }
            throw new NotSupportedException($"{ModelPath}: the text encoder takes no attention_mask and cannot be given one: {_maskedProblem}.");
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_maskedLock)
            {
                _maskedSession?.Dispose();
                _maskedSession = null;
            }
        }
        base.Dispose(disposing);
    }
}
