using System.Diagnostics;
using System.Globalization;
using Spright.Diffusion.Hub;

namespace Spright.Diffusion.Cli.Infrastructure;

/// <summary>
/// Per-file download progress on stderr: a bar redrawn in place for the file being received (bytes, speed, ETA), and
/// one finished line per file. Files downloaded in parallel share the live line.
/// </summary>
internal sealed class DownloadProgressBar : IProgress<HubDownloadProgress>
{
    private const int Width = 24;
    private static readonly long s_redrawInterval = Stopwatch.Frequency / 8;
    private readonly object _gate = new();
    private readonly Dictionary<string, (long StartTimestamp, long StartBytes)> _files = new(StringComparer.Ordinal);
    private int _drawnLength;
    private long _lastDraw;

    public void Report(HubDownloadProgress value)
    {
        lock (_gate)
        {
            long now = Stopwatch.GetTimestamp();
            if (!_files.TryGetValue(value.FileName, out (long StartTimestamp, long StartBytes) start))
            {
                _files[value.FileName] = start = (now, value.BytesDownloaded);
            }
            double seconds = Stopwatch.GetElapsedTime(start.StartTimestamp, now).TotalSeconds;
            double speed = seconds > 0 ? (value.BytesDownloaded - start.StartBytes) / seconds : 0;
            if (value.IsCompleted)
            {
                Clear();
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{value.FileName}  {Bytes(value.TotalBytes)}  {Bytes(speed)}/s  done"));
                _files.Remove(value.FileName);
                return;
            }
            if (now - _lastDraw < s_redrawInterval)
            {
                return;
            }
            _lastDraw = now;
            int filled = value.TotalBytes <= 0 ? Width : (int)Math.Min(Width, value.BytesDownloaded * Width / value.TotalBytes);
            string eta = speed > 0 ? Duration((value.TotalBytes - value.BytesDownloaded) / speed) : "--:--";
            string line = string.Create(CultureInfo.InvariantCulture,
                $"{value.FileName} [{new string('#', filled)}{new string('.', Width - filled)}] {Bytes(value.BytesDownloaded)}/{Bytes(value.TotalBytes)} {Bytes(speed)}/s ETA {eta}");
            Console.Error.Write("\r" + line.PadRight(_drawnLength));
            _drawnLength = line.Length;
        }
    }

    /// <summary>Ends the live line (call before printing anything else).</summary>
    public void Finish()
    {
        lock (_gate)
        {
            Clear();
        }
    }

    private void Clear()
    {
        if (_drawnLength > 0)
        {
            Console.Error.Write("\r" + new string(' ', _drawnLength) + "\r");
            _drawnLength = 0;
        }
    }

    private static string Bytes(double bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB"];
        int unit = 0;
        while (bytes >= 1000 && unit < units.Length - 1)
        {
            bytes /= 1000;
            unit++;
        }
        return unit == 0 ? $"{bytes:0} {units[unit]}" : $"{bytes:0.0} {units[unit]}";
    }

    private static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Min(seconds, 359_999));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes}:{t.Seconds:00}";
    }
}
