using Spright.Diffusion.IO;

namespace Spright.Diffusion.Configuration;

/// <summary>
/// The trust rule for symbolic links in a model folder: everything the pipeline reads (the component folders and every
/// file in them) must resolve, after following links, to a place inside the model folder, or, for a Hugging Face cache
/// snapshot (<c>…/models--org--name/snapshots/{commit}</c>, whose files are links into <c>…/models--org--name/blobs/</c>),
/// inside that repository's cache folder. A link that leads elsewhere is a <see cref="ModelLoadException"/>, unless
/// <see cref="DiffusionPipelineOptions.FollowExternalLinks"/> opts out (for folders assembled from links on purpose).
/// </summary>
internal static class ModelFolderTrust
{
    /// <summary>The most entries walked: a model folder has dozens of files; a huge tree is refused rather than walked.</summary>
    private const int MaxEntries = 10_000;

    /// <summary>Checks the component folders <paramref name="index"/> lists (those that exist) and everything below them.</summary>
    /// <exception cref="ModelLoadException">An entry resolves outside the allowed folder, or the tree is too large.</exception>
    public static void Check(string modelPath, ModelIndex index)
    {
        string root = Path.GetFullPath(modelPath);
        string allowed = AllowedBase(root);
        int entries = 0;
        foreach (string name in index.Components.Keys.Concat(["vae_decoder", "vae_encoder"]).Distinct(StringComparer.Ordinal))
        {
            string folder = Path.Combine(root, name);
            if (Directory.Exists(folder))
            {
                CheckEntry(folder, allowed, root);
                foreach (string entry in Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories))
                {
                    if (++entries > MaxEntries)
                    {
                        throw new ModelLoadException(folder, $"holds more than {MaxEntries} files and folders; a model folder has a few dozen");
                    }
                    CheckEntry(entry, allowed, root);
                }
            }
        }
    }

    /// <summary>The folder every entry must resolve into: the repository cache folder of a Hub snapshot, else the model
    /// folder itself (both with their own links resolved).</summary>
    private static string AllowedBase(string root)
    {
        string real = SafeFiles.RealPath(root);
        DirectoryInfo? snapshots = Directory.GetParent(root);
        DirectoryInfo? repo = snapshots?.Parent;
        if (snapshots is { Name: "snapshots" } && repo is not null && repo.Name.StartsWith("models--", StringComparison.Ordinal))
        {
            return SafeFiles.RealPath(repo.FullName);
        }
        return real;
    }

    private static void CheckEntry(string entry, string allowed, string root)
    {
        string real = SafeFiles.RealPath(entry);
        if (!IsInside(real, allowed))
        {
            throw new ModelLoadException(entry,
                $"is a symbolic link to {real}, outside the model folder {root} (set DiffusionPipelineOptions.FollowExternalLinks to follow such links)");
        }
    }

    private static bool IsInside(string path, string folder)
    {
        StringComparison comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        string withSeparator = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
        return string.Equals(path, folder, comparison) || path.StartsWith(withSeparator, comparison);
    }
}
