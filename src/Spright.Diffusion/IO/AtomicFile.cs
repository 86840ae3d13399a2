namespace Spright.Diffusion.IO;

/// <summary>
/// Writes files through a temporary sibling that is moved into place, so nothing half-written is ever left. Only regular
/// files are written: a destination that exists as a folder, device, FIFO or socket is refused before any work (moving a
/// file over <c>/dev/null</c> would replace the device). A destination that is a symbolic link is written through: the
/// file it points to is replaced (atomically, beside it) and the link stays.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>; on any failure the destination is untouched.</summary>
    /// <param name="path">The destination.</param>
    /// <param name="write">Writes the content to the stream.</param>
    /// <exception cref="DirectoryNotFoundException">The destination folder does not exist.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        WriteAll([(path, write)]);
    }

    /// <summary>
    /// Writes several files as one unit: every file goes to a temporary sibling first, and only when all are complete
    /// are they moved into place. If a write fails or <paramref name="cancellationToken"/> is cancelled before the
    /// moves, no destination is touched and every temporary file is removed.
    /// </summary>
    /// <param name="files">The destinations and the writers of their content (distinct paths).</param>
    /// <param name="cancellationToken">Checked before each file and before the moves.</param>
    /// <exception cref="ArgumentException">A path is empty, or two entries name the same file.</exception>
    /// <exception cref="DirectoryNotFoundException">A destination folder does not exist (checked before anything is written).</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the files were moved into place.</exception>
    public static void WriteAll(IReadOnlyList<(string Path, Action<Stream> Write)> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        var targets = new string[files.Count];
        var seen = new HashSet<string>(OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
        for (int i = 0; i < files.Count; i++)
        {
            (string path, Action<Stream> write) = files[i];
            if (string.IsNullOrWhiteSpace(path))
            {
                throw new ArgumentException($"File {i} has no path.", nameof(files));
            }
            ArgumentNullException.ThrowIfNull(write, nameof(files));
            string full = Resolve(Path.GetFullPath(path));
            if (!seen.Add(full))
            {
                throw new ArgumentException($"{full} is listed twice.", nameof(files));
            }
            CheckDestination(full);
            targets[i] = full;
        }

        var temps = new List<string>(files.Count);
        try
        {
            for (int i = 0; i < files.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string temp = TempPath(targets[i]);
                temps.Add(temp);
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    files[i].Write(stream);
                    stream.Flush(flushToDisk: true);
                }
            }
            cancellationToken.ThrowIfCancellationRequested();
            for (int i = 0; i < targets.Length; i++)
            {
                File.Move(temps[i], targets[i], overwrite: true);
            }
            temps.Clear();
        }
        finally
        {
            foreach (string temp in temps)
            {
                TryDelete(temp);
            }
        }
    }

    /// <summary>Checks that <paramref name="path"/> can be a file written by <see cref="Write"/>: its folder exists and
    /// it is not itself a folder. Lets callers refuse a bad output path before doing any work.</summary>
    /// <param name="path">The destination.</param>
    /// <exception cref="ArgumentException">The path is empty or names a folder.</exception>
    /// <exception cref="DirectoryNotFoundException">The destination folder does not exist.</exception>
    public static void CheckDestination(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Resolve(Path.GetFullPath(path));
        switch (SafeFiles.KindOf(full))
        {
            case FileKind.Directory:
                throw new ArgumentException($"{full} is a folder, not a file name.", nameof(path));
            case FileKind.Special:
                throw new ArgumentException($"{full} is a device, FIFO or socket, not a regular file: refusing to replace it.", nameof(path));
        }
        string directory = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The output folder does not exist: {directory}");
        }
    }

    /// <summary>The file a destination names: the final target of a symbolic link (relative targets resolved), else the
    /// path itself.</summary>
    private static string Resolve(string full)
    {
        try
        {
            return File.ResolveLinkTarget(full, returnFinalTarget: true) is { } target ? Path.GetFullPath(target.FullName) : full;
        }
        catch (IOException)
        {
            return full; // a link loop or an unreadable link: refused or written as the path itself by the checks that follow
        }
    }

    private static string TempPath(string full) =>
        Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
