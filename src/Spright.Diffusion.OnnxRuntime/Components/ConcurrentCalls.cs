using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Spright.Diffusion.OnnxRuntime.Components;

/// <summary>
/// Runs a fixed body for call indices 0..<see cref="Count"/>−1 side by side: index 0 on the calling thread, the others
/// on dedicated threads. Rounds of a series (the steps of a denoising loop) follow each other within microseconds, and
/// waking a blocked thread costs up to milliseconds on virtual machines, so the threads spin briefly between rounds
/// and only then block; after the last round of a series they block at once. Nothing is allocated per round (no tasks,
/// no closures). Errors of any index are rethrown on the caller after every index finished.
/// </summary>
internal sealed class ConcurrentCalls : IDisposable
{
    /// <summary>How long a thread spins for the next round before blocking.</summary>
    private static readonly long SpinForNextRoundTicks = Stopwatch.Frequency / 200; // 5 ms

    /// <summary>How long the caller spins for the other indices before blocking (they run as long as its own index).</summary>
    private static readonly long SpinForCompletionTicks = Stopwatch.Frequency / 20; // 50 ms

    private readonly Action<int> _body;
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _wake;
    private readonly ManualResetEventSlim[] _finished;
    private readonly int[] _completedRound;
    private readonly ExceptionDispatchInfo?[] _errors;
    private int _round;
    private volatile bool _parkAfterRound;
    private volatile bool _stopping;
    private bool _disposed;

    /// <summary>Starts <paramref name="count"/> − 1 background threads for <paramref name="body"/>.</summary>
    /// <param name="count">How many indices each round runs (at least 2).</param>
    /// <param name="body">The work of one index; must be safe to run concurrently for different indices.</param>
    /// <param name="name">The threads' name prefix (shows in debuggers and profilers).</param>
    public ConcurrentCalls(int count, Action<int> body, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        _body = body;
        Count = count;
        _wake = new ManualResetEventSlim[count];
        _finished = new ManualResetEventSlim[count];
        _completedRound = new int[count];
        _errors = new ExceptionDispatchInfo?[count];
        _threads = new Thread[count - 1];
        for (int i = 1; i < count; i++)
        {
            _wake[i] = new ManualResetEventSlim(false, spinCount: 1);
            _finished[i] = new ManualResetEventSlim(false, spinCount: 1);
            // An event allocates its lock the first time a wait blocks: do it now, so that a round that has to block
            // (a loaded machine deschedules the other thread) still allocates nothing.
            _wake[i].Wait(1);
            _finished[i].Wait(1);
        }
        for (int i = 1; i < count; i++)
        {
            int index = i;
            _threads[i - 1] = new Thread(() => Work(index)) { IsBackground = true, Name = $"{name} {index}" };
            _threads[i - 1].Start();
        }
    }

    /// <summary>How many indices one round runs.</summary>
    public int Count { get; }

    /// <summary>Runs the body for every index and returns when all finished; rethrows the first error.</summary>
    /// <param name="lastOfSeries">Whether no round follows soon (the threads then block instead of spinning).</param>
    public void Invoke(bool lastOfSeries)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _parkAfterRound = lastOfSeries;
        int round = _round + 1;
        Volatile.Write(ref _round, round);
        for (int i = 1; i < Count; i++)
        {
            _wake[i].Set();
        }
        try
        {
            _body(0);
        }
        catch (Exception ex)
        {
            _errors[0] = ExceptionDispatchInfo.Capture(ex);
        }
        for (int i = 1; i < Count; i++)
        {
            AwaitCompletion(i, round);
        }
        for (int i = 0; i < Count; i++)
        {
            ExceptionDispatchInfo? error = _errors[i];
            if (error is not null)
            {
                Array.Clear(_errors);
                error.Throw();
            }
        }
    }

    /// <summary>Wakes parked threads so that they spin for a while: a round that starts soon (the first step of the next
    /// call) then does not pay for waking them. Has no effect on a round in progress.</summary>
    public void Prime()
    {
        if (_disposed)
        {
            return;
        }
        _parkAfterRound = false;
        try
        {
            for (int i = 1; i < Count; i++)
            {
                _wake[i].Set();
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: nothing to get ready.
        }
    }

    private void AwaitCompletion(int index, int round)
    {
        long deadline = Stopwatch.GetTimestamp() + SpinForCompletionTicks;
        var spinner = new SpinWait();
        while (Volatile.Read(ref _completedRound[index]) != round)
        {
            if (Stopwatch.GetTimestamp() < deadline)
            {
                // Busy at first, then yielding now and then: when more threads want to run than there are cores
                // (several pipelines at once), the thread this one waits for gets the core.
                spinner.SpinOnce(sleep1Threshold: -1);
                continue;
            }
            _finished[index].Wait();
            _finished[index].Reset();
        }
    }

    private void Work(int index)
    {
        int seen = 0;
        while (true)
        {
            long deadline = _parkAfterRound ? 0 : Stopwatch.GetTimestamp() + SpinForNextRoundTicks;
            var spinner = new SpinWait();
            while (Volatile.Read(ref _round) == seen && !_stopping)
            {
                if (Stopwatch.GetTimestamp() < deadline)
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                // A set left over from an earlier round only costs one more pass through this loop; a prime (or that
                // leftover) starts a new spin unless the last round ended a series.
                _wake[index].Wait();
                _wake[index].Reset();
                deadline = _parkAfterRound ? 0 : Stopwatch.GetTimestamp() + SpinForNextRoundTicks;
            }
            if (_stopping)
            {
                return;
            }
            seen = Volatile.Read(ref _round);
            try
            {
                _body(index);
            }
            catch (Exception ex)
            {
                _errors[index] = ExceptionDispatchInfo.Capture(ex);
            }
            Volatile.Write(ref _completedRound[index], seen);
            _finished[index].Set();
        }
    }

    /// <summary>Stops and joins the threads (call only when no round is running).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _stopping = true;
        for (int i = 1; i < Count; i++)
        {
            _wake[i].Set();
        }
        foreach (Thread thread in _threads)
        {
            thread.Join();
        }
        for (int i = 1; i < Count; i++)
        {
            _wake[i].Dispose();
            _finished[i].Dispose();
        }
    }
}
