using System.Diagnostics;
using Spright.Diffusion.Components;
using Spright.Diffusion.Diagnostics;

namespace Spright.Diffusion.OnnxRuntime.LowMemory;

/// <summary>
/// A component of a low-memory pipeline (<see cref="DiffusionPipelineOptions.LowMemory"/>): loaded by the first lease and
/// released when the last lease ends, so only one large model is resident at a time.
/// </summary>
internal sealed class OnDemand<T> : IDisposable where T : class, IDisposable
{
    private readonly Func<T> _load;
    private readonly Lock _gate = new();
    private T? _value;
    private int _leases;
    private bool _disposed;

    /// <summary>Creates the holder; <paramref name="loaded"/> is an instance already loaded (released when idle).</summary>
    public OnDemand(Func<T> load, T? loaded = null)
    {
        _load = load;
        _value = loaded;
    }

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded
    {
        get
        {
            lock (_gate)
            {
                return _value is not null;
            }
        }
    }

    /// <summary>Loads the component if needed and keeps it loaded until the lease is disposed.</summary>
    public Lease Acquire()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_value is null)
            {
                using Activity? activity = Telemetry.Start(DiffusionDiagnostics.Activities.Load);
                _value = _load();
            }
            _leases++;
            return new Lease(this, _value);
        }
    }

    /// <summary>Releases the component now unless a stage holds it.</summary>
    public void ReleaseIfIdle()
    {
        T? toDispose = null;
        lock (_gate)
        {
            if (_leases == 0)
            {
                toDispose = _value;
                _value = null;
            }
        }
        toDispose?.Dispose();
    }

    public void Dispose()
    {
        T? toDispose;
        lock (_gate)
        {
            _disposed = true;
            toDispose = _value;
            _value = null;
        }
        toDispose?.Dispose();
    }

    private void Release()
    {
        T? toDispose = null;
        lock (_gate)
        {
            if (--_leases == 0)
            {
                toDispose = _value;
                _value = null;
            }
        }
        toDispose?.Dispose();
    }

    /// <summary>Keeps the component loaded while held.</summary>
    internal sealed class Lease(OnDemand<T> owner, T value) : IDisposable
    {
        private OnDemand<T>? _owner = owner;

        public T Value { get; } = value;

        public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release();
    }
}
