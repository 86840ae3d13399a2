using System.Runtime.InteropServices;

namespace Spright.Diffusion.IO;

/// <summary>
/// The file-type checks behind the library's trust model: it reads and writes regular files only. Opening a FIFO blocks
/// forever, a device can stream without end, and renaming a file over a device or FIFO replaces it; so every file the
/// library reads (configs, tokenizer files, weights, images) and every output it writes is checked first, and anything
/// that exists and is not a regular file (after following symbolic links) is refused at once.
/// </summary>
internal static partial class SafeFiles
{
    private const int TypeMask = 0xF000;
    private const int RegularType = 0x8000;
    private const int DirectoryType = 0x4000;

    /// <summary>The kind of file at <paramref name="path"/> (symbolic links followed).</summary>
    public static FileKind KindOf(string path)
    {
        if (Directory.Exists(path))
        {
            return FileKind.Directory;
        }
        if (!File.Exists(path))
        {
            return FileKind.Missing;
        }
        if (OperatingSystem.IsWindows())
        {
            return (File.GetAttributes(path) & FileAttributes.Device) != 0 ? FileKind.Special : FileKind.Regular;
        }
        int mode = UnixMode(path);
        return mode < 0 ? FileKind.Regular : (mode & TypeMask) switch
        {
            RegularType => FileKind.Regular,
            DirectoryType => FileKind.Directory,
            _ => FileKind.Special,
        };
    }

    /// <summary>Throws unless <paramref name="path"/> is an existing regular file.</summary>
    /// <exception cref="ArgumentException">Missing, a folder, or a FIFO, socket or device (parameter <paramref name="parameterName"/>).</exception>
    public static void RequireRegularFile(string path, string parameterName)
    {
        if (Problem(path) is { } problem)
        {
            throw new ArgumentException($"{path}: {problem}.", parameterName);
        }
    }

    /// <summary>Why <paramref name="path"/> cannot be read as a regular file, or null when it can.</summary>
    public static string? Problem(string path) => KindOf(path) switch
    {
        FileKind.Regular => null,
        FileKind.Missing => "no such file",
        FileKind.Directory => "a folder, not a file",
        _ => "not a regular file (a FIFO, socket or device); only regular files are read",
    };

    /// <summary>The path with every symbolic link along it resolved (the real path), for containment checks.</summary>
    /// <exception cref="ModelLoadException">A link loops or cannot be read.</exception>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? string.Empty;
        string current = root;
        foreach (string part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            try
            {
                FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
                if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                {
                    // A relative link target is relative to the link's folder; a resolved one may itself sit under links.
                    current = RealPath(target.FullName);
                }
            }
            catch (IOException ex)
            {
                throw new ModelLoadException(current, $"a symbolic link that cannot be resolved ({ex.Message})", ex);
            }
        }
        return current;
    }

    /// <summary>The <c>st_mode</c> of <paramref name="path"/> through the .NET runtime's own native shim (the stat the
    /// BCL uses), or −1 where that is not available.</summary>
    private static int UnixMode(string path)
    {
        try
        {
            // FileStatus of System.Native begins with int Flags, int Mode; the rest is not needed.
            Span<byte> status = stackalloc byte[256];
            return Stat(path, ref MemoryMarshal.GetReference(status)) == 0 ? MemoryMarshal.Read<int>(status[4..]) : -1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, ref byte status);
}

/// <summary>What a path names.</summary>
internal enum FileKind
{
    /// <summary>Nothing.</summary>
    Missing,

    /// <summary>A regular file.</summary>
    Regular,

    /// <summary>A folder.</summary>
    Directory,

    /// <summary>A FIFO, socket, character or block device.</summary>
    Special,
}
