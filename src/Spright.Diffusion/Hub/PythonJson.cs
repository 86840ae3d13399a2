namespace Spright.Diffusion.Hub;

/// <summary>Helpers for JSON written by Python's <c>json</c> module (diffusers/transformers configs).</summary>
internal static class PythonJson
{
    /// <summary>Python's json module writes <c>Infinity</c>, <c>-Infinity</c> and <c>NaN</c> as bare literals
    /// (e.g. DPM-Solver's <c>lambda_min_clipped</c>); JSON has none, so they become strings the reader understands.</summary>
    public static string QuoteNonFiniteLiterals(string json)
    {
        if (!json.Contains("Infinity", StringComparison.Ordinal) && !json.Contains("NaN", StringComparison.Ordinal))
        {
            return json;
        }
        var sb = new System.Text.StringBuilder(json.Length + 8);
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (inString)
            {
                sb.Append(c);
                if (c == '\\' && i + 1 < json.Length)
                {
                    sb.Append(json[++i]);
                }
                else if (c == '"')
                {
                    inString = false;
                }
                continue;
            }
            if (c == '"')
            {
                inString = true;
                sb.Append(c);
                continue;
            }
            string? literal = null;
            foreach (string candidate in (ReadOnlySpan<string>)["-Infinity", "Infinity", "NaN"])
            {
                if (string.CompareOrdinal(json, i, candidate, 0, candidate.Length) == 0)
                {
                    literal = candidate;
                    break;
                }
            }
            if (literal is not null)
            {
                sb.Append('"').Append(literal).Append('"');
                i += literal.Length - 1;
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }
}
