using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization.Ftfy;

/// <summary>
/// ftfy 6.3.1's data (<c>chardata.py</c>, <c>badness.py</c>, <c>bad_codecs/sloppy.py</c>) and the pieces of CPython's
/// <c>html</c> module it relies on, loaded from the embedded <c>ftfy-tables.txt</c>.
/// </summary>
internal sealed class FtfyTables
{
    private static readonly Lazy<FtfyTables> s_instance = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The one-byte encodings ftfy tries, in its order (<c>CHARMAP_ENCODINGS</c>).</summary>
    public static readonly string[] CharmapEncodings =
    [
        "latin-1", "sloppy-windows-1252", "sloppy-windows-1251", "sloppy-windows-1250", "sloppy-windows-1253",
        "sloppy-windows-1254", "sloppy-windows-1257", "iso-8859-2", "macroman", "cp437",
    ];

    private FtfyTables(Dictionary<string, List<string>> sections)
    {
        Codecs = new Dictionary<string, SingleByteCodec>(StringComparer.Ordinal);
        Sets = new Dictionary<string, CodePointSet>(StringComparer.Ordinal);
        Entities = new Dictionary<string, string>(StringComparer.Ordinal);
        CharrefReplacements = new Dictionary<int, string>();
        foreach ((string name, List<string> lines) in sections)
        {
            if (name.StartsWith("codec ", StringComparison.Ordinal))
            {
                int[] table = lines.SelectMany(l => l.Split(' '))
                    .Select(v => v == "-" ? -1 : CodePointSet.ParseHex(v)).ToArray();
                if (table.Length != 256)
                {
                    throw new InvalidDataException($"ftfy-tables.txt: codec {name} has {table.Length} entries");
                }
                string codec = name.Substring("codec ".Length);
                Codecs[codec] = new SingleByteCodec(codec, table);
            }
            else if (name.StartsWith("set ", StringComparison.Ordinal))
            {
                Sets[name.Substring("set ".Length)] = CodePointSet.Parse(lines);
            }
            else if (name == "entities")
            {
                foreach (string line in lines)
                {
                    int space = line.IndexOf(' ', StringComparison.Ordinal);
                    Entities[line.Substring(0, space)] = EmbeddedTables.HexToString(line.AsSpan(space + 1));
                }
            }
            else if (name == "charref_replacements")
            {
                foreach (string line in lines)
                {
                    int space = line.IndexOf(' ', StringComparison.Ordinal);
                    CharrefReplacements[CodePointSet.ParseHex(line.AsSpan(0, space))] = EmbeddedTables.HexToString(line.AsSpan(space + 1));
                }
            }
            else if (name == "charref_removed")
            {
                CharrefRemoved = CodePointSet.Parse(lines);
            }
        }
        CharrefRemoved ??= new CodePointSet([]);
    }

    public static FtfyTables Instance => s_instance.Value;

    /// <summary>Codecs by Python name (the ten of <see cref="CharmapEncodings"/> plus strict windows-1252).</summary>
    public Dictionary<string, SingleByteCodec> Codecs { get; }

    /// <summary>ftfy's character categories (<c>MOJIBAKE_CATEGORIES</c>) and UTF-8 clue sets (<c>UTF8_CLUES</c>).</summary>
    public Dictionary<string, CodePointSet> Sets { get; }

    /// <summary>ftfy's <c>HTML_ENTITIES</c>: "&amp;name;" (and some upper-cased forms) to text.</summary>
    public Dictionary<string, string> Entities { get; }

    /// <summary><c>html._invalid_charrefs</c>: numeric references replaced by a fixed text.</summary>
    public Dictionary<int, string> CharrefReplacements { get; }

    /// <summary><c>html._invalid_codepoints</c>: numeric references that unescape to nothing.</summary>
    public CodePointSet CharrefRemoved { get; }

    /// <summary>A named set.</summary>
    public CodePointSet Set(string name) =>
        Sets.TryGetValue(name, out CodePointSet? set) ? set : throw new InvalidDataException($"ftfy-tables.txt has no set '{name}'");

    private static FtfyTables Load() => new(EmbeddedTables.ReadSections("ftfy-tables.txt"));
}
