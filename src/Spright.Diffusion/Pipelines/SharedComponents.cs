namespace Spright.Diffusion.Pipelines;

/// <summary>
/// The native components a set of pipelines share (text-to-image and image-to-image built from one folder, as
/// diffusers' <c>from_pipe</c> does): reference counted, disposed when the last pipeline using them is.
/// </summary>
internal sealed class SharedComponents
{
    private readonly List<IDisposable> _owned;
    private int _references = 1;

    public SharedComponents(IEnumerable<IDisposable> owned) => _owned = owned.ToList();

    public SharedComponents AddReference()
    {
        ObjectDisposedException.ThrowIf(Interlocked.Increment(ref _references) <= 1, this);
        return this;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            foreach (IDisposable d in _owned)
            {
                d.Dispose();
            }
            _owned.Clear();
        }
    }
}
