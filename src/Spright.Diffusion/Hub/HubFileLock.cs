namespace Spright.Diffusion.Hub;

/// <summary>
/// The per-blob lock <c>{cache}/.locks/models--…/{etag}.lock</c> that huggingface_hub takes with <c>filelock</c>
/// (<c>flock(LOCK_EX)</c> on Unix). A <see cref="FileStream"/> opened with <see cref="FileShare.None"/> takes the same
/// exclusive <c>flock</c> on Unix (and a share-mode lock on Windows), so Python and .NET processes — and threads of one
/// process — exclude each other. Waits without a time limit, as Python does, but stops on cancellation. The 0-byte lock
/// file is left behind after use, as Python leaves it.
/// </summary>
internal sealed class HubFileLock : IDisposable
{
    private static readonly TimeSpan s_maxPoll = TimeSpan.FromMilliseconds(500);
    private readonly FileStream _stream;

    private HubFileLock(FileStream stream) => _stream = stream;

    public static async Task<HubFileLock> AcquireAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        TimeSpan delay = TimeSpan.FromMilliseconds(10);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.None);
                return new HubFileLock(stream);
            }
            catch (IOException ex) when (IsLockedByOther(ex))
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(s_maxPoll.Ticks, delay.Ticks * 2));
            }
        }
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>How .NET reports a lock held elsewhere: on Windows ERROR_SHARING_VIOLATION (32) or ERROR_LOCK_VIOLATION
    /// (33); on Unix the <c>errno</c> of <c>flock(LOCK_EX | LOCK_NB)</c>, EWOULDBLOCK (11 on Linux, 35 on macOS and the BSDs).</summary>
    internal static bool IsLockedByOther(IOException ex) => OperatingSystem.IsWindows()
        ? (ex.HResult & 0xFFFF) is 32 or 33
        : ex.HResult == (OperatingSystem.IsLinux() ? 11 : 35);
}
