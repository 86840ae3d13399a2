namespace Spright.Diffusion.Pipelines;

/// <summary>
/// The loaded components a set of pipelines share (text-to-image and image-to-image built from one folder, as
/// diffusers' <c>from_pipe</c> does), disposed when the last pipeline using them is.
/// </summary>
internal sealed class SharedComponents
{
    private readonly RefCount _references;

    /// <summary>Takes ownership of <paramref name="owned"/> with one reference (the creator's).</summary>
    public SharedComponents(IEnumerable<IDisposable> owned)
    {
        IDisposable[] items = owned.ToArray();
        _references = new RefCount(() =>
        {
            foreach (IDisposable d in items)
            {
                d.Dispose();
            }
        });
    }

    /// <summary>One more pipeline shares the components.</summary>
    /// <exception cref="ObjectDisposedException">The components were already released.</exception>
    public SharedComponents AddReference()
    {
        ObjectDisposedException.ThrowIf(!_references.TryAcquire(), this);
        return this;
    }

    /// <summary>A pipeline no longer uses them; the last one disposes them.</summary>
    public void Release() => _references.Release();
}
