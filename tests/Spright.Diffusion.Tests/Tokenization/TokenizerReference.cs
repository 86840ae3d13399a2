using System.Text.Json;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Tokenization;

/// <summary>The transformers CLIPTokenizer reference (TestData/reference/tokenizer): prompts and expected ids per variant.</summary>
internal sealed class TokenizerReference
{
    private static readonly Lazy<TokenizerReference> s_instance = new(Load);

    public static TokenizerReference Instance => s_instance.Value;

    public required IReadOnlyList<ReferenceCase> Cases { get; init; }

    public static IEnumerable<object[]> CaseIndices() =>
        Enumerable.Range(0, Instance.Cases.Count).Select(i => new object[] { i });

    private static TokenizerReference Load()
    {
        string dir = TestPaths.Reference("tokenizer");
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        var variants = new Dictionary<string, (long[,] Padded, long[] Flat, long[] Offsets)>();
        foreach (string variant in new[] { "no_ftfy", "ftfy" })
        {
            NpyArray padded = Npy.Load(Path.Combine(dir, $"ids_padded__{variant}.npy"));
            long[] paddedValues = padded.AsInt64();
            var rows = new long[padded.Shape[0], padded.Shape[1]];
            Buffer.BlockCopy(paddedValues, 0, rows, 0, paddedValues.Length * sizeof(long));
            variants[variant] = (rows,
                Npy.Load(Path.Combine(dir, $"ids_full__{variant}__flat.npy")).AsInt64(),
                Npy.Load(Path.Combine(dir, $"ids_full__{variant}__offsets.npy")).AsInt64());
        }
        var cases = new List<ReferenceCase>();
        foreach (JsonElement c in manifest.RootElement.GetProperty("cases").EnumerateArray())
        {
            int index = c.GetProperty("index").GetInt32();
            var expected = new Dictionary<bool, ReferenceExpectation>();
            foreach (string variant in new[] { "no_ftfy", "ftfy" })
            {
                (long[,] padded, long[] flat, long[] offsets) = variants[variant];
                int[] paddedRow = Enumerable.Range(0, padded.GetLength(1)).Select(j => checked((int)padded[index, j])).ToArray();
                int[] full = flat[(int)offsets[index]..(int)offsets[index + 1]].Select(v => checked((int)v)).ToArray();
                string[] tokens = c.GetProperty("tokens").GetProperty(variant).EnumerateArray().Select(t => t.GetString()!).ToArray();
                expected[variant == "ftfy"] = new ReferenceExpectation(paddedRow, full, tokens);
            }
            cases.Add(new ReferenceCase(index, c.GetProperty("category").GetString()!, c.GetProperty("prompt").GetString()!, expected));
        }
        return new TokenizerReference { Cases = cases };
    }
}

internal sealed record ReferenceExpectation(int[] Padded, int[] Full, string[] Tokens);

internal sealed record ReferenceCase(int Index, string Category, string Prompt, IReadOnlyDictionary<bool, ReferenceExpectation> ByFtfy);
