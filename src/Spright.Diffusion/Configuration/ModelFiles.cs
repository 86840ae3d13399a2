using System.Text;
using Spright.Diffusion.IO;

namespace Spright.Diffusion.Configuration;

/// <summary>Safe file access for model folders: bounded JSON reads and paths that cannot escape the model root.</summary>
internal static class ModelFiles
{
    /// <summary>The default cap for a JSON file of a model folder.</summary>
    public const long DefaultMaxJsonBytes = 16L << 20;

    /// <summary>Reads a JSON file's text, refusing missing and oversized files with a <see cref="ModelLoadException"/>.</summary>
    public static string ReadJsonText(string path, long maxBytes = DefaultMaxJsonBytes)
    {
        var info = new FileInfo(path);
        if (!info.Exists && !Directory.Exists(path))
        {
            throw new ModelLoadException(path, "file not found");
        }
        if (SafeFiles.Problem(path) is { } problem)
        {
            // A FIFO would block the read forever, a device could stream without end.
            throw new ModelLoadException(path, problem);
        }
        if (info.Length > maxBytes)
        {
            throw new ModelLoadException(path, $"file is {info.Length} bytes, more than the {maxBytes} bytes allowed for this JSON file");
        }
        try
        {
            // The length reported up front is not trusted: a device or a file that grows (a link to /dev/zero) must
            // not be read without bound.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > maxBytes)
                {
                    throw new ModelLoadException(path, $"file is more than the {maxBytes} bytes allowed for this JSON file");
                }
            }
            ReadOnlySpan<byte> bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
            if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            {
                bytes = bytes[3..]; // a UTF-8 byte order mark, as File.ReadAllText would drop it
            }
            return Encoding.UTF8.GetString(bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(path, $"cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Resolves a component sub-folder named by <c>model_index.json</c> inside <paramref name="root"/>: the name must be
    /// one plain folder name (diffusers' component names are Python identifiers), so names that are rooted, contain a
    /// separator, <c>..</c>, a drive or characters invalid in file names are rejected, and the result must lie inside.
    /// </summary>
    public static string ResolveInside(string root, string relative, string indexFile)
    {
        if (string.IsNullOrWhiteSpace(relative)
            || Path.IsPathRooted(relative)
            || relative.Contains(':', StringComparison.Ordinal)
            || relative.IndexOfAny(['/', '\\', '\0']) >= 0
            || relative.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0
            || relative is ".." or ".")
        {
            throw new ModelLoadException(indexFile, $"component name '{relative}' is not a plain folder name inside the model folder");
        }
        string fullRoot = Path.GetFullPath(root);
        string full = Path.GetFullPath(Path.Combine(fullRoot, relative));
        string rootWithSep = fullRoot.EndsWith(Path.DirectorySeparatorChar) ? fullRoot : fullRoot + Path.DirectorySeparatorChar;
        if (!full.StartsWith(rootWithSep, StringComparison.Ordinal))
        {
            throw new ModelLoadException(indexFile, $"component name '{relative}' resolves outside the model folder");
        }
        return full;
    }
}
