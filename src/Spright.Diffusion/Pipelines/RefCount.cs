namespace Spright.Diffusion.Pipelines;

/// <summary>
/// A reference count that starts at one (the owner's own reference) and runs a release action once, when it drops to
/// zero; after that nothing can acquire it again. Pipelines count their running calls with it (disposing the pipeline
/// drops the owner's reference, running calls finish first), and loaded components count the pipelines sharing them.
/// </summary>
internal sealed class RefCount
{
    private readonly Action _release;
    private int _count = 1;

    /// <summary>Creates the count with the owner's reference.</summary>
    /// <param name="release">Runs once, when the last reference is dropped.</param>
    public RefCount(Action release) => _release = release;

    /// <summary>Whether the count has reached zero (the resource was released).</summary>
    public bool IsReleased => Volatile.Read(ref _count) == 0;

    /// <summary>Takes one more reference, unless the resource was already released.</summary>
    /// <returns>Whether a reference was taken.</returns>
    public bool TryAcquire()
    {
        while (true)
        {
            int current = Volatile.Read(ref _count);
            if (current == 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _count, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    /// <summary>Drops one reference; the last one runs the release action.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _count) == 0)
        {
            _release();
        }
    }
}
