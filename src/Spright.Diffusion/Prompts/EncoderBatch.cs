using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// Rows of token ids (with optional attention masks) collected from a batch of prompts and negative prompts and run
/// through the text encoder in ONE call; identical rows are encoded once.
/// </summary>
internal sealed class EncoderBatch
{
    private readonly int _rowLength;
    private readonly List<int[]> _ids = [];
    private readonly List<int[]?> _masks = [];
    private readonly Dictionary<RowKey, int> _index = [];
    private Tensor<float>? _states;

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
        var key = new RowKey(ids, mask);
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
        cancellationToken.ThrowIfCancellationRequested();
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
        // The rows are only read (every result is a new array), so a dense output is used as it is.
        _states = output.IsDense ? output : output.CloneDense();
    }

    /// <summary>The states of one row, [rowLength × hidden].</summary>
    public ReadOnlySpan<float> Row(int index)
    {
        if (_states is null)
        {
            throw new InvalidOperationException("The batch has not run.");
        }
        int size = _rowLength * HiddenSize;
        return _states.AsSpan().Slice(index * size, size);
    }

    /// <summary>A row's ids and mask compared by content.</summary>
    private sealed class RowKey(int[] ids, int[]? mask) : IEquatable<RowKey>
    {
        private readonly int _hash = Hash(ids, mask);

        public bool Equals(RowKey? other) =>
            other is not null && other._hash == _hash && ids.AsSpan().SequenceEqual(other.Ids) &&
            (mask is null ? other.Mask is null : other.Mask is not null && mask.AsSpan().SequenceEqual(other.Mask));

        public override bool Equals(object? obj) => Equals(obj as RowKey);

        public override int GetHashCode() => _hash;

        private int[] Ids => ids;

        private int[]? Mask => mask;

        private static int Hash(int[] ids, int[]? mask)
        {
            var hash = new HashCode();
            hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(ids.AsSpan()));
            if (mask is not null)
            {
                hash.Add(1);
                hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(mask.AsSpan()));
            }
            return hash.ToHashCode();
        }
    }
}
