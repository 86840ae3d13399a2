using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Tokenization;

/// <summary>A temporary copy of the SD2 tokenizer folder that a test may edit; deleted on dispose.</summary>
internal sealed class TokenizerFolder : IDisposable
{
    public TokenizerFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "spright-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        foreach (string file in new[] { "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json" })
        {
            File.Copy(System.IO.Path.Combine(TestPaths.ClipTokenizerSd2, file), System.IO.Path.Combine(Path, file));
        }
    }

    public string Path { get; }

    public string File_(string name) => System.IO.Path.Combine(Path, name);

    public void Write(string name, string text) => File.WriteAllText(File_(name), text);

    public void Delete(string name) => File.Delete(File_(name));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
