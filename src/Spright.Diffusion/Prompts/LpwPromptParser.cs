namespace Spright.Diffusion.Prompts;

/// <summary>One run of prompt text with its attention weight.</summary>
/// <param name="Text">The text.</param>
/// <param name="Weight">The weight (a Python float).</param>
/// <param name="Position">Where the run starts in the prompt.</param>
internal readonly record struct WeightedText(string Text, double Weight, int Position);

/// <summary>
/// AUTOMATIC1111's attention syntax exactly as diffusers v0.31.0's community <c>lpw_stable_diffusion.py</c>
/// (<c>parse_prompt_attention</c>) reads it: <c>(x)</c> ×1.1, <c>[x]</c> ÷1.1, <c>(x:w)</c>, nesting, the escapes
/// <c>\( \) \[ \] \\</c> (a lone backslash is dropped), unbalanced brackets applied to the end of the prompt, and
/// adjacent runs of equal weight merged. Unlike a direct port, the work is bounded per character (no quadratic
/// list edits); a weight that is not a number (<c>(red:1.2.3)</c>, where Python raises) or not finite is an
/// <see cref="ArgumentException"/> naming its position.
/// </summary>
internal static class LpwPromptParser
{
    private const double RoundMultiplier = 1.1;
    private const double SquareMultiplier = 1 / 1.1;

    /// <summary>Parses a prompt into runs of text and weight.</summary>
    /// <param name="text">The prompt.</param>
    /// <param name="paramName">The parameter named by errors.</param>
    public static List<WeightedText> Parse(string text, string paramName = "prompt")
    {
        ArgumentNullException.ThrowIfNull(text);
        var texts = new List<string>();
        var weights = new List<double>();
        var positions = new List<int>();
        var round = new List<int>();
        var square = new List<int>();
        // Every multiplication of parse_prompt_attention is done (the weights are Python's bit for bit), but a
        // prompt whose brackets would need more than this many is rejected instead of taking quadratic time.
        long budget = (256L * text.Length) + 65536;

        void MultiplyRange(int start, double multiplier, int position)
        {
            int count = texts.Count - start;
            budget -= count;
            if (budget < 0)
            {
                throw new ArgumentException(
                    $"The prompt nests brackets too deeply around too much text to weight (at position {position}).", paramName);
            }
            for (int p = start; p < texts.Count; p++)
            {
                weights[p] *= multiplier;
            }
        }

        void Add(string s, int position)
        {
            texts.Add(s);
            weights.Add(1.0);
            positions.Add(position);
        }

        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            int start = i;
            if (c == '\\')
            {
                char next = i + 1 < text.Length ? text[i + 1] : '\0';
                if (i + 1 < text.Length && next is '(' or ')' or '[' or ']' or '\\')
                {
                    Add(next.ToString(), start);
                    i += 2;
                }
                else
                {
                    // re_attention's lone "\\" alternative: text[1:] is empty.
                    Add(string.Empty, start);
                    i += 1;
                }
                continue;
            }
            if (c == '(')
            {
                round.Add(texts.Count);
                i++;
                continue;
            }
            if (c == '[')
            {
                square.Add(texts.Count);
                i++;
                continue;
            }
            if (c == ':')
            {
                int end = MatchWeight(text, i, out int numberStart, out int numberEnd);
                if (end > 0)
                {
                    if (round.Count > 0)
                    {
                        string number = text[numberStart..numberEnd];
                        if (!PythonFloat.TryParse(number, out double weight))
                        {
                            throw new ArgumentException($"The weight '{number}' at position {numberStart} is not a number.", paramName);
                        }
                        int open = round[^1];
                        round.RemoveAt(round.Count - 1);
                        MultiplyRange(open, weight, start);
                    }
                    else
                    {
                        Add(text[i..end], start);
                    }
                    i = end;
                    continue;
                }
                Add(":", start);
                i++;
                continue;
            }
            if (c == ')')
            {
                if (round.Count > 0)
                {
                    int open = round[^1];
                    round.RemoveAt(round.Count - 1);
                    MultiplyRange(open, RoundMultiplier, start);
                }
                else
                {
                    Add(")", start);
                }
                i++;
                continue;
            }
            if (c == ']')
            {
                if (square.Count > 0)
                {
                    int open = square[^1];
                    square.RemoveAt(square.Count - 1);
                    MultiplyRange(open, SquareMultiplier, start);
                }
                else
                {
                    Add("]", start);
                }
                i++;
                continue;
            }
            int j = i + 1;
            while (j < text.Length && text[j] is not ('\\' or '(' or ')' or '[' or ']' or ':'))
            {
                j++;
            }
            Add(text[i..j], start);
            i = j;
        }

        foreach (int open in round)
        {
            MultiplyRange(open, RoundMultiplier, text.Length);
        }
        foreach (int open in square)
        {
            MultiplyRange(open, SquareMultiplier, text.Length);
        }

        var result = new List<WeightedText>();
        if (texts.Count == 0)
        {
            result.Add(new WeightedText(string.Empty, 1.0, 0));
            return result;
        }
        // Merge runs of identical weights (Python's float ==).
        var merged = new System.Text.StringBuilder(texts[0]);
        double current = weights[0];
        int position = positions[0];
        for (int p = 1; p < texts.Count; p++)
        {
            if (weights[p] == current)
            {
                merged.Append(texts[p]);
                continue;
            }
            result.Add(new WeightedText(merged.ToString(), current, position));
            merged.Clear().Append(texts[p]);
            current = weights[p];
            position = positions[p];
        }
        result.Add(new WeightedText(merged.ToString(), current, position));
        return result;
    }

    /// <summary>re_attention's <c>:([+-]?[.\d]+)\)</c> at <paramref name="colon"/>: the index after the match, or 0.</summary>
    private static int MatchWeight(string text, int colon, out int numberStart, out int numberEnd)
    {
        int i = colon + 1;
        numberStart = i;
        if (i < text.Length && text[i] is '+' or '-')
        {
            i++;
        }
        int runStart = i;
        while (i < text.Length)
        {
            if (text[i] == '.')
            {
                i++;
                continue;
            }
            int length = PythonFloat.DigitLength(text, i);
            if (length == 0)
            {
                break;
            }
            i += length;
        }
        numberEnd = i;
        if (i == runStart || i >= text.Length || text[i] != ')')
        {
            return 0;
        }
        return i + 1;
    }
}
