using System.Reflection;

namespace Spright.Diffusion.Tokenization.Unicode;

/// <summary>Reads the sectioned text tables embedded in the assembly (<c>Tokenization/Data/*.txt</c>).</summary>
internal static class EmbeddedTables
{
    /// <summary>
    /// Reads an embedded table into its sections: a line <c>@name</c> opens a section, <c>#</c> lines are comments,
    /// every other non-empty line belongs to the open section.
    /// </summary>
    public static Dictionary<string, List<string>> ReadSections(string fileName)
    {
        string resource = "Spright.Diffusion.Tokenization.Data." + fileName;
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The embedded table '{resource}' is missing from the assembly.");
        using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
        var sections = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        List<string>? current = null;
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            if (line[0] == '@')
            {
                current = new List<string>();
                sections[line.Substring(1)] = current;
                continue;
            }
            (current ?? throw new InvalidDataException($"{resource}: data before the first section")).Add(line);
        }
        return sections;
    }

    /// <summary>Parses space-separated hexadecimal code points into a string.</summary>
    public static string HexToString(ReadOnlySpan<char> hexList)
    {
        var sb = new System.Text.StringBuilder();
        foreach (Range part in hexList.Split(' '))
        {
            ReadOnlySpan<char> item = hexList[part];
            if (item.Length > 0)
            {
                CodePoints.Append(sb, CodePointSet.ParseHex(item));
            }
        }
        return sb.ToString();
    }
}
