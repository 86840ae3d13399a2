using System.Text;

namespace Spright.Diffusion.Hub;

/// <summary>Small cache files written atomically: a temporary sibling, then a move into place.</summary>
internal static class CacheFiles
{
    /// <summary>A unique temporary path in the folder of <paramref name="path"/> (same volume, so the move is a rename).</summary>
    public static string TempPathBeside(string path) =>
        Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");

    /// <summary>Writes <paramref name="text"/> (UTF-8, no BOM, nothing added) to <paramref name="path"/>, creating the
    /// folder; the file is either the old one or the complete new one.</summary>
    public static void WriteAllText(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = TempPathBeside(path);
        try
        {
            File.WriteAllText(temp, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            File.Move(temp, path, overwrite: true);
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
