namespace Spright.Diffusion.Prompts;

// compel 2.2.1's prompt structures (prompt_parser.py), immutable.

/// <summary>A piece of text with a weight (compel's Fragment).</summary>
internal sealed record CompelFragment(string Text, double Weight)
{
    /// <summary>Fragment.__init__: turns <c>\(</c>, <c>\)</c> and <c>\"</c> into the plain characters (every time
    /// a fragment is made, as compel does when it flattens and fuses them).</summary>
    public static CompelFragment Create(string text, double weight = 1.0)
    {
        if (text.Contains("\\\"", StringComparison.Ordinal) || text.Contains("\\(", StringComparison.Ordinal) || text.Contains("\\)", StringComparison.Ordinal))
        {
            text = text.Replace("\\(", "(", StringComparison.Ordinal).Replace("\\)", ")", StringComparison.Ordinal).Replace("\\\"", "\"", StringComparison.Ordinal);
        }
        return new CompelFragment(text, weight);
    }
}

/// <summary>Weight applied to nested children (compel's Attention).</summary>
internal sealed record CompelAttention(double Weight, IReadOnlyList<object> Children);

/// <summary><c>.withLora(name, weight)</c>: parsed and dropped (it does not change the embeddings).</summary>
internal sealed record CompelLora(string Model);

/// <summary><c>original.swap(edited)</c>: the embeddings are those of the original.</summary>
internal sealed record CompelSwap(IReadOnlyList<object> Original, IReadOnlyList<object> Edited);

/// <summary>An unflattened prompt (compel's Prompt).</summary>
internal sealed record CompelPrompt(IReadOnlyList<object> Children);

/// <summary>A flattened prompt: fragments (and swaps of fragments) ready to tokenize.</summary>
internal sealed record CompelFlattenedPrompt(IReadOnlyList<object> Children)
{
    public bool WantsCrossAttentionControl => Children.Any(c => c is CompelSwap);
}

/// <summary><c>(…).blend(w…)</c>: flattened prompts and their weights.</summary>
internal sealed record CompelBlend(IReadOnlyList<object> Prompts, IReadOnlyList<double> Weights, bool Normalize);

/// <summary>The parse result: parts (flattened prompts or blends) concatenated along the tokens, with weights.</summary>
internal sealed record CompelConjunction(IReadOnlyList<object> Prompts, IReadOnlyList<double> Weights);
