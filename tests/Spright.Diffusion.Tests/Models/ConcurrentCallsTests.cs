using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.Sessions;

namespace Spright.Diffusion.Tests.Models;

/// <summary>The side-by-side runner behind concurrent UNet batch shares: every index runs once per round, on distinct
/// threads, errors come back to the caller after all indices finished, and rounds allocate nothing.</summary>
public sealed class ConcurrentCallsTests
{
    [Fact]
    public void EveryIndexRunsOncePerRoundOnItsOwnThread()
    {
        var counts = new int[3];
        var threads = new int[3];
        using var calls = new ConcurrentCalls(3, i =>
        {
            Interlocked.Increment(ref counts[i]);
            threads[i] = Environment.CurrentManagedThreadId;
        }, "test");
        for (int round = 0; round < 50; round++)
        {
            calls.Invoke(lastOfSeries: round % 10 == 9);
            Assert.Equal([round + 1, round + 1, round + 1], counts);
        }
        Assert.Equal(Environment.CurrentManagedThreadId, threads[0]);
        Assert.Equal(3, threads.Distinct().Count());
    }

    [Fact]
    public void AWorkerErrorIsRethrownAfterEveryIndexFinished()
    {
        int finished = 0;
        using var calls = new ConcurrentCalls(2, i =>
        {
            if (i == 1)
            {
                throw new InvalidOperationException("share 1 failed");
            }
            Thread.Sleep(20);
            Interlocked.Increment(ref finished);
        }, "test");
        var error = Assert.Throws<InvalidOperationException>(() => calls.Invoke(lastOfSeries: false));
        Assert.Equal("share 1 failed", error.Message);
        Assert.Equal(1, finished);
        // The next round runs normally once the body stops failing... here it still fails, and still reports it.
        Assert.Throws<InvalidOperationException>(() => calls.Invoke(lastOfSeries: true));
    }

    [Fact]
    public void RoundsAllocateNothing()
    {
        long sum = 0;
        using var calls = new ConcurrentCalls(2, i => Interlocked.Add(ref sum, i + 1), "test");
        for (int i = 0; i < 20; i++)
        {
            calls.Invoke(lastOfSeries: false);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            calls.Invoke(lastOfSeries: i == 99);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(120 * 3, Interlocked.Read(ref sum));
    }

    [Fact]
    public void DisposeStopsParkedAndSpinningThreads()
    {
        var calls = new ConcurrentCalls(2, _ => { }, "test");
        calls.Invoke(lastOfSeries: false); // the worker spins for the next round
        calls.Dispose();
        calls.Dispose();
        Assert.Throws<ObjectDisposedException>(() => calls.Invoke(lastOfSeries: false));
    }

    [Fact]
    public void PrimingParkedOrSpinningOrDisposedThreadsIsHarmless()
    {
        int runs = 0;
        var calls = new ConcurrentCalls(2, _ => Interlocked.Increment(ref runs), "test");
        calls.Invoke(lastOfSeries: true); // the worker parks
        calls.Prime();                     // ...spins again for a while
        calls.Prime();
        calls.Invoke(lastOfSeries: false);
        Thread.Sleep(20);                  // past the spin: parked again
        calls.Prime();
        calls.Invoke(lastOfSeries: true);
        Assert.Equal(6, runs);
        calls.Dispose();
        calls.Prime();
    }

    [Fact]
    public void FewerThanTwoIndicesAreRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConcurrentCalls(1, _ => { }, "test"));
}
