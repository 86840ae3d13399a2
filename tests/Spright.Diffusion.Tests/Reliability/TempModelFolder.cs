using System.Text.Json.Nodes;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// A private copy of a model folder that a test may break; deleted on dispose. The repository's models are never
/// modified: every edit goes to the copy, and <see cref="Restore"/> puts one file back from the original.
/// </summary>
internal sealed class TempModelFolder : IDisposable
{
    private readonly string _root;

    public TempModelFolder(string source)
    {
        Source = source;
        _root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "spright-broken-" + Guid.NewGuid().ToString("N"));
        Path = System.IO.Path.Combine(_root, "model");
        CopyDirectory(source, Path);
    }

    /// <summary>The original folder.</summary>
    public string Source { get; }

    /// <summary>The copy.</summary>
    public string Path { get; }

    /// <summary>A folder next to the copy (outside it), for path-escape tests.</summary>
    public string Outside => _root;

    public string File(string relative) => System.IO.Path.Combine(Path, relative);

    public string ReadText(string relative) => System.IO.File.ReadAllText(File(relative));

    public void WriteText(string relative, string text) => System.IO.File.WriteAllText(File(relative), text);

    public void WriteBytes(string relative, byte[] bytes) => System.IO.File.WriteAllBytes(File(relative), bytes);

    public JsonObject ReadJson(string relative) => (JsonObject)JsonNode.Parse(ReadText(relative))!;

    /// <summary>Edits a JSON object file in place.</summary>
    public void EditJson(string relative, Action<JsonObject> edit)
    {
        JsonObject obj = ReadJson(relative);
        edit(obj);
        WriteText(relative, obj.ToJsonString());
    }

    /// <summary>Cuts a file to <paramref name="fraction"/> of its length.</summary>
    public void Truncate(string relative, double fraction)
    {
        using var stream = new FileStream(File(relative), FileMode.Open, FileAccess.Write);
        stream.SetLength((long)(stream.Length * fraction));
    }

    /// <summary>Makes the file <paramref name="bytes"/> long without writing them (sparse where the file system allows).</summary>
    public void Inflate(string relative, long bytes)
    {
        using var stream = new FileStream(File(relative), FileMode.Create, FileAccess.Write);
        stream.WriteByte((byte)'{');
        stream.SetLength(bytes);
    }

    public void Delete(string relative)
    {
        string full = File(relative);
        if (Directory.Exists(full))
        {
            Directory.Delete(full, recursive: true);
        }
        else
        {
            System.IO.File.Delete(full);
        }
    }

    public void Copy(string fromRelative, string toRelative) => System.IO.File.Copy(File(fromRelative), File(toRelative), overwrite: true);

    /// <summary>Puts one file back as it is in the original folder.</summary>
    public void Restore(string relative) => System.IO.File.Copy(System.IO.Path.Combine(Source, relative), File(relative), overwrite: true);

    public void Dispose()
    {
        for (int attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                if (Directory.Exists(_root))
                {
                    Directory.Delete(_root, recursive: true);
                }
                return;
            }
            catch (IOException) when (attempt < 4)
            {
                Thread.Sleep(50); // Windows: a session released a moment ago may still hold the file.
            }
            catch (UnauthorizedAccessException) when (attempt < 4)
            {
                Thread.Sleep(50);
            }
        }
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.EnumerateFiles(source))
        {
            System.IO.File.Copy(file, System.IO.Path.Combine(destination, System.IO.Path.GetFileName(file)));
        }
        foreach (string dir in Directory.EnumerateDirectories(source))
        {
            CopyDirectory(dir, System.IO.Path.Combine(destination, System.IO.Path.GetFileName(dir)));
        }
    }
}
