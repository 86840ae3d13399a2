using System.Diagnostics;

namespace Spright.Diffusion.Hub;

/// <summary>
/// One report stream for the files of a download: reports of parallel downloads are serialised (the consumer is never
/// called from two threads at once) and thinned to about ten per second per file, plus each file's first and last.
/// </summary>
internal sealed class HubProgressSink
{
    private static readonly long s_interval = Stopwatch.Frequency / 10;
    private readonly IProgress<HubDownloadProgress>? _progress;
    private readonly object _gate = new();

    public HubProgressSink(IProgress<HubDownloadProgress>? progress) => _progress = progress;

    public FileProgress Start(string fileName, long totalBytes, long initialBytes)
    {
        var file = new FileProgress(this, fileName, totalBytes);
        file.Report(initialBytes, force: true);
        return file;
    }

    private void Emit(HubDownloadProgress value)
    {
        if (_progress is null)
        {
            return;
        }
        lock (_gate)
        {
            _progress.Report(value);
        }
    }

    /// <summary>The reports of one file.</summary>
    internal sealed class FileProgress
    {
        private readonly HubProgressSink _sink;
        private readonly string _fileName;
        private readonly long _total;
        private long _lastReport;

        public FileProgress(HubProgressSink sink, string fileName, long total)
        {
            _sink = sink;
            _fileName = fileName;
            _total = total;
        }

        public void Report(long bytes, bool force = false)
        {
            if (_sink._progress is null)
            {
                return;
            }
            long now = Stopwatch.GetTimestamp();
            if (!force && now - _lastReport < s_interval)
            {
                return;
            }
            _lastReport = now;
            _sink.Emit(new HubDownloadProgress(_fileName, bytes, _total, IsCompleted: false));
        }

        public void Complete(long bytes) => _sink.Emit(new HubDownloadProgress(_fileName, bytes, _total, IsCompleted: true));
    }
}
