using System.Runtime.InteropServices;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>Hard links (ONNX Runtime reads external data only from real files under the model's folder: a hard link
/// qualifies, a symlink into another folder does not), with a copy as the fallback across volumes.</summary>
internal static partial class FileLinks
{
    /// <summary>Makes <paramref name="destination"/> the same file as <paramref name="source"/>: a hard link, or a copy
    /// when the two are on different volumes (or the file system has no hard links). Returns true for a link.</summary>
    public static bool LinkOrCopy(string source, string destination, CancellationToken cancellationToken)
    {
        if (TryHardLink(source, destination))
        {
            return true;
        }
        Copy(source, destination, cancellationToken);
        return false;
    }

    /// <summary>Creates a hard link; false when the OS refuses (other volume, no support, permissions).</summary>
    public static bool TryHardLink(string source, string destination)
    {
        try
        {
            if (OperatingSystem.IsWindows())
            {
                return CreateHardLinkW(destination, source, IntPtr.Zero);
            }
            return Link(source, destination) == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static void Copy(string source, string destination, CancellationToken cancellationToken)
    {
        using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 20, FileOptions.SequentialScan);
        using var output = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        var buffer = new byte[1 << 20];
        int n;
        while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            output.Write(buffer, 0, n);
        }
        output.Flush(flushToDisk: true);
        File.SetLastWriteTimeUtc(destination, File.GetLastWriteTimeUtc(source));
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string oldPath, string newPath);

    [LibraryImport("kernel32.dll", EntryPoint = "CreateHardLinkW", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool CreateHardLinkW(string fileName, string existingFileName, IntPtr securityAttributes);
}
