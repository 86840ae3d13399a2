using System.Numerics.Tensors;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// Rows of token ids (with optional attention masks) collected from a prompt and its negative prompt and run
/// through the text encoder in ONE call; identical rows are encoded once.
/// </summary>
internal sealed class EncoderBatch
{
    private readonly int _rowLength;
    private readonly List<int[]> _ids = [];
    private readonly List<int[]?> _masks = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private float[]? _states;

    public EncoderBatch(int rowLength)
    {
        _rowLength = rowLength;
    }

    /// <summary>The number of distinct rows.</summary>
    public int Count => _ids.Count;

    /// <summary>The hidden size, known after <see cref="Run"/>.</summary>
    public int HiddenSize { get; private set; }

    /// <summary>Adds a row (or finds the same one) and returns its index.</summary>
    public int Add(int[] ids, int[]? mask)
    {
        if (ids.Length != _rowLength || (mask is not null && mask.Length != _rowLength))
        {
            throw new InvalidOperationException($"Encoder rows must have {_rowLength} ids.");
        }
        if (mask is not null && Array.TrueForAll(mask, m => m == 1))
        {
            mask = null;
        }
        string key = string.Join(',', ids) + (mask is null ? string.Empty : "|" + string.Join(',', mask));
        if (_index.TryGetValue(key, out int found))
        {
            return found;
        }
        _ids.Add(ids);
        _masks.Add(mask);
        _index[key] = _ids.Count - 1;
        return _ids.Count - 1;
    }

    /// <summary>Runs every row through the encoder at once.</summary>
    public void Run(PromptEncoderContext context, CancellationToken cancellationToken)
    {
        int rows = _ids.Count;
        if (rows == 0)
        {
            throw new InvalidOperationException("No rows to encode.");
        }
        var flat = new int[rows * _rowLength];
        for (int r = 0; r < rows; r++)
        {
            _ids[r].CopyTo(flat, r * _rowLength);
        }
        Tensor<float> output;
        if (_masks.Exists(m => m is not null))
        {
            if (context.TextEncoder is not IAttentionMaskTextEncoder masked)
            {
                throw new NotSupportedException(
                    "compel down-weights fragments (weights below 1) by masking their tokens, and this text encoder takes no attention mask " +
                    $"({context.TextEncoder.GetType().Name} does not implement IAttentionMaskTextEncoder).");
            }
            var mask = new int[flat.Length];
            for (int r = 0; r < rows; r++)
            {
                if (_masks[r] is int[] m)
                {
                    m.CopyTo(mask, r * _rowLength);
                }
                else
                {
                    mask.AsSpan(r * _rowLength, _rowLength).Fill(1);
                }
            }
            output = masked.Encode(flat, mask, rows, cancellationToken);
        }
        else
        {
            output = context.TextEncoder.Encode(flat, rows, cancellationToken);
        }
        ReadOnlySpan<nint> lengths = output.Lengths;
        if (lengths.Length != 3 || lengths[0] != rows || lengths[1] != _rowLength || lengths[2] <= 0)
        {
            throw new InvalidOperationException(
                $"The text encoder returned [{string.Join(", ", lengths.ToArray())}] for {rows} rows of {_rowLength} tokens.");
        }
        HiddenSize = (int)lengths[2];
        _states = output.IsDense ? output.AsSpan().ToArray() : output.CloneDense().AsSpan().ToArray();
    }

    /// <summary>The states of one row, [rowLength × hidden].</summary>
    public ReadOnlySpan<float> Row(int index)
    {
        if (_states is null)
        {
            throw new InvalidOperationException("The batch has not run.");
        }
        int size = _rowLength * HiddenSize;
        return _states.AsSpan(index * size, size);
    }
}
