using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace Spright.Diffusion.Hub;

/// <summary>
/// The cache layout huggingface_hub uses (<c>file_download.py</c>), shared with Python:
/// <c>{cache}/models--{org}--{name}/blobs/{etag}</c>, <c>snapshots/{commit}/{path}</c> as relative symbolic links into
/// <c>blobs/</c> (the file itself where links cannot be made, as Python does on Windows), <c>refs/{revision}</c> holding
/// the commit with no newline, <c>.no_exist/{commit}/{path}</c> markers and <c>{cache}/.locks/models--…/{etag}.lock</c>.
/// Nothing here deletes or rewrites a file it did not create; unknown entries (<c>trees/</c>, <c>CACHEDIR.TAG</c>, other
/// clients' <c>*.incomplete</c> files) are left alone.
/// </summary>
internal sealed partial class HubCache
{
    private static readonly ConcurrentDictionary<string, bool> s_symlinksUnsupported = new(StringComparer.Ordinal);

    public HubCache(string cacheDir, string repoId, bool disableSymlinks)
    {
        CacheDir = cacheDir;
        RepoId = repoId;
        FolderName = RepoFolderName(repoId);
        StorageFolder = Path.Combine(cacheDir, FolderName);
        DisableSymlinks = disableSymlinks;
    }

    public string CacheDir { get; }

    public string RepoId { get; }

    /// <summary><c>models--{org}--{name}</c>.</summary>
    public string FolderName { get; }

    /// <summary><c>{cache}/models--{org}--{name}</c>.</summary>
    public string StorageFolder { get; }

    public bool DisableSymlinks { get; }

    /// <summary>huggingface_hub's <c>repo_folder_name</c> for a model repository.</summary>
    public static string RepoFolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    /// <summary>A full 40-hex commit (huggingface_hub's <c>REGEX_COMMIT_HASH</c>).</summary>
    public static bool IsCommitHash(string revision) => CommitHashRegex().IsMatch(revision);

    /// <summary>A lower-case 64-hex SHA-256 (huggingface_hub's <c>REGEX_SHA256</c>): the etag of LFS files.</summary>
    public static bool IsSha256(string etag) => Sha256Regex().IsMatch(etag);

    /// <summary>A name the Hub sent (a commit, an etag) that is used as one file or folder name.</summary>
    public static bool IsSafeName(string name) =>
        name.Length is > 0 and <= 255 && name != "." && name != ".." && !name.Any(c => char.IsControl(c) || c is '/' or '\\' or ':');

    /// <summary>The segments of a repository path (<c>unet/config.json</c>) if it is a safe relative path: no empty,
    /// <c>.</c> or <c>..</c> segment, no backslash or colon, no control character; null otherwise.</summary>
    public static string[]? SplitRepoPath(string path)
    {
        if (string.IsNullOrEmpty(path) || path.Length > 4096)
        {
            return null;
        }
        string[] parts = path.Split('/');
        foreach (string part in parts)
        {
            if (part.Length == 0 || part == "." || part == ".." || part.Any(c => char.IsControl(c) || c is '\\' or ':'))
            {
                return null;
            }
        }
        return parts;
    }

    public string BlobPath(string etag) => Path.Combine(StorageFolder, "blobs", etag);

    public string SnapshotFolder(string commit) => Path.Combine(StorageFolder, "snapshots", commit);

    public string PointerPath(string commit, string[] relativeParts) => Path.Combine([StorageFolder, "snapshots", commit, .. relativeParts]);

    public string LockPath(string etag) => Path.Combine(CacheDir, ".locks", FolderName, etag + ".lock");

    private string RefPath(string revision) => Path.Combine([StorageFolder, "refs", .. revision.Split('/')]);

    /// <summary>The commit a cached <c>refs/{revision}</c> names, or null. Python reads it without stripping; surrounding
    /// white space is tolerated here.</summary>
    public string? ReadRef(string revision)
    {
        string path = RefPath(revision);
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }
            string commit = File.ReadAllText(path).Trim();
            return IsSafeName(commit) ? commit : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The commit for <paramref name="revision"/>: the revision itself when it is a commit, else the cached ref.</summary>
    public string? ResolveCachedCommit(string revision) => IsCommitHash(revision) ? revision : ReadRef(revision);

    /// <summary>Writes <c>refs/{revision}</c> = <paramref name="commit"/> (no newline) when the revision is not the commit
    /// itself and the ref differs; atomically (temporary file, then move). A cache that cannot be written is tolerated, as
    /// in Python.</summary>
    public void WriteRef(string revision, string commit)
    {
        if (revision == commit)
        {
            return;
        }
        string path = RefPath(revision);
        try
        {
            if (File.Exists(path) && File.ReadAllText(path) == commit)
            {
                return;
            }
            CacheFiles.WriteAllText(path, commit);
        }
        catch (IOException)
        {
            // A read-only shared cache: the ref only speeds up offline use.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Creates the empty <c>.no_exist/{commit}/{path}</c> marker of a file the Hub says does not exist.</summary>
    public void MarkMissing(string commit, string[] relativeParts)
    {
        try
        {
            string path = Path.Combine([StorageFolder, ".no_exist", commit, .. relativeParts]);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            {
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Whether a file exists at <paramref name="path"/>, following symbolic links (Python's
    /// <c>os.path.exists</c>): a dangling link does not count.</summary>
    public static bool FileExists(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is null)
            {
                return info.Exists;
            }
            FileSystemInfo? target = info.ResolveLinkTarget(returnFinalTarget: true);
            return target is FileInfo { Exists: true };
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Creates the snapshot entry <paramref name="pointerPath"/> for <paramref name="blobPath"/> (huggingface_hub's
    /// <c>_create_symlink</c>): a relative symbolic link; where links cannot be made, a new blob is moved there (so
    /// <c>blobs/</c> keeps nothing, as Python does) and an existing blob copied (through a temporary file). A dangling
    /// link left at the path is replaced. Call with the blob's lock held.
    /// </summary>
    public void CreatePointer(string blobPath, string pointerPath, bool newBlob)
    {
        string folder = Path.GetDirectoryName(pointerPath)!;
        Directory.CreateDirectory(folder);
        var existing = new FileInfo(pointerPath);
        if (existing.LinkTarget is not null)
        {
            if (FileExists(pointerPath))
            {
                return;
            }
            existing.Delete(); // a dangling link: Python removes it too
        }
        else if (existing.Exists)
        {
            return;
        }

        if (!DisableSymlinks && !s_symlinksUnsupported.ContainsKey(CacheDir))
        {
            string relative = Path.GetRelativePath(folder, blobPath);
            try
            {
                File.CreateSymbolicLink(pointerPath, relative);
                return;
            }
            catch (IOException) when (FileExists(pointerPath))
            {
                return; // created concurrently by another client
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                s_symlinksUnsupported[CacheDir] = true;
            }
        }

        if (newBlob)
        {
            File.Move(blobPath, pointerPath, overwrite: false);
        }
        else
        {
            string temp = CacheFiles.TempPathBeside(pointerPath);
            try
            {
                File.Copy(blobPath, temp, overwrite: false);
                File.Move(temp, pointerPath, overwrite: false);
            }
            finally
            {
                if (File.Exists(temp))
                {
                    File.Delete(temp);
                }
            }
        }
    }

    [GeneratedRegex("^[0-9a-f]{40}$", RegexOptions.CultureInvariant)]
    private static partial Regex CommitHashRegex();

    [GeneratedRegex("^[0-9a-f]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex Sha256Regex();
}
