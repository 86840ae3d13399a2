namespace Spright.Diffusion.Configuration;

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

/// <summary>Reads numbers from <see cref="System.Text.Json.Nodes.JsonValue"/>s whatever .NET type backs them.</summary>
internal static class JsonNumbers
{
    /// <summary>The value as a double when it is a JSON number.</summary>
    public static bool TryGetDouble(System.Text.Json.Nodes.JsonValue value, out double result)
    {
        if (value.TryGetValue(out result))
        {
            return true;
        }
        if (value.TryGetValue(out int i))
        {
            result = i;
            return true;
        }
        if (value.TryGetValue(out long l))
        {
            result = l;
            return true;
        }
        if (value.TryGetValue(out float f))
        {
            result = f;
            return true;
        }
        if (value.TryGetValue(out decimal m))
        {
            result = (double)m;
            return true;
        }
        if (value.GetValueKind() == System.Text.Json.JsonValueKind.Number)
        {
            return double.TryParse(value.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out result);
        }
        result = 0;
        return false;
    }
}
