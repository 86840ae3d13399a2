namespace Spright.Diffusion.Schedulers;

/// <summary>
/// A multistep scheduler's history of model outputs (the solvers' <c>model_outputs = [None] * solver_order</c>, shifted
/// left on every step; PNDM's <c>ets</c>) over buffers allocated once per sample size: pushing rotates array references,
/// so no step after the first allocates. The buffer that falls off the front becomes the next <see cref="Pending"/> slot.
/// </summary>
internal sealed class SolverHistory
{
    private float[]?[] _slots = [];
    private float[]? _pending;
    private int _length = -1;

    /// <summary>The capacity (the solver order).</summary>
    public int Capacity => _slots.Length;

    /// <summary>The element count of every buffer (−1 before the first step).</summary>
    public int Length => _length;

    /// <summary>How many entries hold a model output (the non-<c>None</c> tail of diffusers' list).</summary>
    public int Count { get; private set; }

    /// <summary>Empties the history (diffusers' <c>model_outputs = [None] * solver_order</c>), keeping the buffers.</summary>
    public void Reset(int capacity)
    {
        if (_slots.Length != capacity)
        {
            _slots = new float[capacity][];
            _length = -1;
        }
        Count = 0;
    }

    /// <summary>Makes sure the buffers hold <paramref name="length"/> elements (allocating all of them at once when the
    /// length changes); changing the length mid-run is an error.</summary>
    public void EnsureLength(int length)
    {
        if (_length == length)
        {
            return;
        }
        if (Count > 0)
        {
            throw new ArgumentException($"The sample has {length} elements but the solver history holds {_length}; call SetTimesteps before changing the latent size.", "sample");
        }
        _length = length;
        _pending = new float[length];
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new float[length];
        }
    }

    /// <summary>The buffer the next model output is converted into (not yet part of the history).</summary>
    public float[] Pending => _pending ??= new float[_length];

    /// <summary>Appends <see cref="Pending"/> as the newest entry, dropping the oldest.</summary>
    public void Push()
    {
        float[] incoming = Pending;
        float[]? dropped = _slots[0];
        for (int i = 0; i < _slots.Length - 1; i++)
        {
            _slots[i] = _slots[i + 1];
        }
        _slots[^1] = incoming;
        _pending = dropped;
        Count = Math.Min(Count + 1, _slots.Length);
    }

    /// <summary>The entry <paramref name="back"/> steps before the newest (0 = newest, diffusers' <c>model_outputs[-1 - back]</c>).</summary>
    public float[] this[int back]
    {
        get
        {
            if (back < 0 || back >= Count)
            {
                throw new InvalidOperationException($"The solver history holds {Count} model outputs; entry {back} back is empty.");
            }
            return _slots[_slots.Length - 1 - back]!;
        }
    }

    /// <summary>Whether the entry <paramref name="back"/> steps before the newest holds a model output.</summary>
    public bool Has(int back) => back >= 0 && back < Count;
}
