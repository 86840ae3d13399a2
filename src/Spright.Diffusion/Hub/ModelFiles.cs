using System.Text;

namespace Spright.Diffusion.Hub;

/// <summary>Safe file access for model folders: bounded JSON reads and paths that cannot escape the model root.</summary>
internal static class ModelFiles
{
    /// <summary>The default cap for a JSON file of a model folder.</summary>
    public const long DefaultMaxJsonBytes = 16L << 20;

    /// <summary>Reads a JSON file's text, refusing missing and oversized files with a <see cref="ModelLoadException"/>.</summary>
    public static string ReadJsonText(string path, long maxBytes = DefaultMaxJsonBytes)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new ModelLoadException(path, "file not found");
        }
        if (info.Length > maxBytes)
        {
            throw new ModelLoadException(path, $"file is {info.Length} bytes, more than the {maxBytes} bytes allowed for this JSON file");
        }
        try
        {
            return File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(path, $"cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Resolves a component sub-folder named by <c>model_index.json</c> inside <paramref name="root"/>, rejecting
    /// names that are rooted, contain <c>..</c> or otherwise resolve outside the root.
    /// </summary>
    public static string ResolveInside(string root, string relative, string indexFile)
    {
        if (string.IsNullOrWhiteSpace(relative)
            || Path.IsPathRooted(relative)
            || relative.Contains(':', StringComparison.Ordinal)
            || relative.Split('/', '\\').Any(p => p == ".." || p == "."))
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
