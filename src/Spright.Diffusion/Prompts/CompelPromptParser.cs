using System.Text;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// compel 2.2.1's prompt parser (<c>prompt_parser.py</c>: <c>build_parser_syntax</c>, <c>parse_conjunction</c>,
/// <c>flatten</c>): the same grammar, built element by element on a pyparsing-compatible engine, so that it accepts,
/// rejects and produces what compel does, including its readings of unbalanced or malformed input (text that does
/// not parse as syntax becomes plain words). Where compel raises (text no alternative accepts, a weight that is not
/// a number, mismatched blend weights…) this raises an <see cref="ArgumentException"/> naming the position. Nested
/// parentheses are parsed in linear time (compel's parser is exponential in the nesting depth) up to a depth limit.
/// Immutable and thread-safe.
/// </summary>
internal sealed class CompelPromptParser
{
    private const string PythonWhitespace = " \t\n\r\u000b\u000c";
    private const string SyntacticChars = "()\",.+-=";
    private const string Digits = "0123456789";
    private const string KeywordChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

    private readonly PpElement _conjunction;
    private readonly PpElement _fragmentIncludingCommas;
    private readonly PpElement _prompt;

    private CompelPromptParser(double plusBase, double minusBase)
    {
        PpElement LParen() => new PpSuppress(new PpLiteral("("));
        PpElement RParen() => new PpSuppress(new PpLiteral(")"));
        PpElement Comma() => new PpSuppress(new PpLiteral(","));
        PpElement lparen = LParen();
        PpElement rparen = RParen();
        PpElement comma = Comma();
        PpElement equals = new PpSuppress(new PpLiteral("="));

        PpElement IntegerAsFloat() =>
            new PpCombine(new PpAnd(new PpOptional(new PpLiteral("-")), new PpWord(Digits)))
                .WithAction((_, _, t) => PpActionResult.One(ParseFloatOrAbort((string)t[0], 0)));
        PpElement number = new PpMatchFirst(new PpReal(), IntegerAsFloat());
        PpElement keyword = new PpWord(KeywordChars);

        // non_syntax_word = Combine(OneOrMore(escaped symbol | +/- not followed by space, syntax or end | digits |
        // one character that is neither whitespace nor syntax)): scanned directly (PpNonSyntaxWord), same text.
        var nonSyntaxWordScanner = new PpNonSyntaxWord(PythonWhitespace, SyntacticChars);
        PpElement nonSyntaxWord = nonSyntaxWordScanner
            .WithAction((_, _, t) => PpActionResult.Of(Fragments(t)));
        nonSyntaxWord.Memoize = true;

        PpElement freeWord = new PpCharsNotIn(PythonWhitespace)
            .WithAction((_, _, t) => PpActionResult.One(CompelFragment.Create((string)t[0])));

        var attention = new PpForward();
        var crossAttentionSubstitute = new PpForward();
        var parenthesizedFragment = new PpForward();
        var quotedFragment = new PpForward();
        var loraWeight = new PpForward();

        PpElement[] FragmentParts() => [loraWeight, attention, crossAttentionSubstitute, parenthesizedFragment, quotedFragment, nonSyntaxWord];
        PpElement fragmentIncludingCommas = new PpRepeat(new PpMatchFirst([.. FragmentParts(),
            new PpMatchFirst(new PpLiteral(","), new PpLiteral(".")).WithAction((_, _, t) => PpActionResult.One(CompelFragment.Create((string)t[0])))]), 0);
        PpElement fragmentExcludingCommas = new PpRepeat(new PpMatchFirst(FragmentParts()), 0);
        _fragmentIncludingCommas = fragmentIncludingCommas;

        quotedFragment.Set(new PpQuotedString());
        quotedFragment.FirstChars = "\"";
        quotedFragment.WithAction((s, loc, t) => ParseFragmentString(s, loc, (string)t[0], _fragmentIncludingCommas));

        parenthesizedFragment.Set(new PpAnd(lparen, fragmentIncludingCommas, rparen));
        parenthesizedFragment.FirstChars = "(";

        PpElement numberAsOption = new PpMatchFirst(new PpReal(), IntegerAsFloat());
        PpElement option = new PpGroupOf(new PpMatchFirst(
            new PpAnd(keyword, equals, new PpMatchFirst(number, keyword)),
            numberAsOption,
            keyword));
        PpElement options = new PpDict(new PpOptional(DelimitedList(option)));

        PpElement potentialOperatorTarget = new PpMatchFirst(quotedFragment, parenthesizedFragment, nonSyntaxWord) { Memoize = true };

        PpElement attentionWeightOperator = new PpMatchFirst(new PpWord("+"), new PpWord("-"), number);
        PpElement attentionExplicit = new PpAnd(
            new PpGroupOf(potentialOperatorTarget), new PpLiteral(".attend"), lparen, new PpGroupOf(attentionWeightOperator), rparen)
            .WithAction((s, loc, t) => PpActionResult.One(MakeAttention((PpGroup)t[0], (PpGroup)t[2], plusBase, minusBase)));
        PpElement attentionImplicit = new PpMatchFirst(
            new PpAnd(new PpGroupOf(new PpMatchFirst(quotedFragment, parenthesizedFragment)), new PpNotAny(new PpWhite()), new PpGroupOf(attentionWeightOperator)),
            new PpAnd(new PpGroupOf(nonSyntaxWord), new PpNotAny(new PpWhite()), new PpGroupOf(new PpMatchFirst(new PpWord("+"), new PpWord("-")))))
            .WithAction((s, loc, t) => PpActionResult.One(MakeAttention((PpGroup)t[0], (PpGroup)t[1], plusBase, minusBase)));
        attention.Set(new PpMatchFirst(attentionExplicit, attentionImplicit));
        // Every reading of attention starts with a potential_operator_target and goes on with ".attend" or (right
        // after it) a +/- run or a number: checked first, from the memoised target, to skip the grammar's work on
        // plain words.
        // Where the target starts with neither a quote, a parenthesis nor whitespace, only non_syntax_word can match,
        // and its parse action cannot fail: its end is scanned without building (and memoising) its tokens, which the
        // guards do not need (a failure is recorded as the parse would record it).
        bool TargetEnd(PpState s, int start, out int end)
        {
            string text = s.Text;
            if (start < text.Length && text[start] is not ('"' or '(' or ' ' or '\n' or '\t' or '\r'))
            {
                end = nonSyntaxWordScanner.Scan(text, start);
                if (end > start)
                {
                    return true;
                }
                if (start > s.FurthestFailure)
                {
                    s.FurthestFailure = start;
                }
                return false;
            }
            return potentialOperatorTarget.Parse(s, start, true, false, out end, out _);
        }
        attention.Guard = (s, start) =>
        {
            if (!TargetEnd(s, start, out int e))
            {
                return false;
            }
            string text = s.Text;
            return FollowedBy(text, e, ".attend") || (e < text.Length && (text[e] is '+' or '-' or '.' || PythonFloat.DigitLength(text, e) > 0));
        };
        crossAttentionSubstitute.Guard = (s, start) =>
            TargetEnd(s, start, out int e) && FollowedBy(s.Text, e, ".swap");

        crossAttentionSubstitute.Set(new PpAnd(
            new PpGroupOf(potentialOperatorTarget), new PpLiteral(".swap"), lparen, new PpGroupOf(fragmentExcludingCommas),
            new PpOptional(new PpAnd(comma, options)), rparen));
        crossAttentionSubstitute.WithAction((s, loc, t) => PpActionResult.One(MakeSwap(s, loc, t)));

        loraWeight.Set(new PpAnd(
            new PpMatchFirst(new PpLiteral("useLora"), new PpLiteral("withLora")), lparen, keyword,
            new PpOptional(new PpAnd(comma, number)), rparen));
        loraWeight.WithAction((_, _, t) => PpActionResult.One(new CompelLora((string)t[1])));
        loraWeight.FirstChars = "uw";

        _prompt = new PpRepeat(new PpMatchFirst(
            crossAttentionSubstitute, loraWeight, attention, quotedFragment, parenthesizedFragment, freeWord, new PpSuppress(new PpWhite())), 0);

        var quotedPrompt = new PpForward();
        quotedPrompt.Set(new PpQuotedString());
        quotedPrompt.FirstChars = "\"";
        quotedPrompt.WithAction((s, loc, t) => ParseFragmentString(s, loc, (string)t[0], _prompt));

        PpElement Targets() => new PpGroupOf(DelimitedList(new PpGroupOf(new PpMatchFirst(potentialOperatorTarget, quotedPrompt))));
        PpElement blend = new PpAnd(lparen, Targets(), rparen, new PpLiteral(".blend"), lparen, new PpGroupOf(options), rparen)
            .WithAction((s, loc, t) => PpActionResult.One(MakeBlend(s, loc, (PpGroup)t[0], (PpGroup)t[2])));
        PpElement explicitConjunction = new PpAnd(
            lparen, Targets(), rparen, new PpMatchFirst(new PpLiteral(".and"), new PpLiteral(".add")), lparen, new PpGroupOf(options), rparen)
            .WithAction((s, loc, t) => PpActionResult.One(MakeConjunction(s, loc, (PpGroup)t[0], (PpGroup)t[2])));

        PpElement OptionalLoras() => new PpOptional(new PpGroupOf(new PpRepeat(loraWeight, 1)));
        PpElement implicitConjunction = new PpAnd(OptionalLoras(), new PpMatchFirst(blend, new PpGroupOf(_prompt)), OptionalLoras(), new PpStringEnd())
            .WithAction((s, loc, t) => PpActionResult.One(new CompelConjunction(
                t.Select(x => x is CompelBlend ? x : ToPrompt(((PpGroup)x).Items, s, loc)).ToList(),
                Enumerable.Repeat(1.0, t.Count).ToList())));
        _conjunction = new PpMatchFirst(explicitConjunction, implicitConjunction);
    }

    private static List<object> Fragments(List<object> words)
    {
        var fragments = new List<object>(words.Count);
        foreach (object word in words)
        {
            fragments.Add(CompelFragment.Create((string)word));
        }
        return fragments;
    }

    /// <summary>The parser with compel's defaults (<c>attention_plus_base</c> 1.1, <c>attention_minus_base</c> 0.9).</summary>
    public static CompelPromptParser Default { get; } = new(1.1, 0.9);

    /// <summary><c>PromptParser().parse_conjunction(prompt)</c>: the flattened conjunction.</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="paramName">The parameter named by errors.</param>
    public CompelConjunction Parse(string prompt, string paramName = "prompt")
    {
        ArgumentNullException.ThrowIfNull(prompt);
        (string text, int[] map) = EnforceSpaceAfterComma(prompt);
        if (text.AsSpan().Trim().Length == 0 || IsBlank(text))
        {
            return new CompelConjunction([new CompelFlattenedPrompt([CompelFragment.Create(string.Empty)])], [1.0]);
        }
        (string expanded, int[] tabMap) = ExpandTabs(text);
        // An empty comma map: no space was inserted, and the map is the identity on 0…prompt.Length.
        var state = new PpState(expanded)
        {
            MapPosition = map.Length == 0 ? p => Math.Clamp(MapBack(tabMap, p), 0, prompt.Length) : p => MapBack(map, MapBack(tabMap, p)),
        };
        try
        {
            if (!_conjunction.Parse(state, 0, true, true, out _, out List<object> tokens))
            {
                int at = state.MapPosition(Math.Max(0, state.FurthestFailure));
                throw new ArgumentException($"compel cannot parse the prompt (no reading of the text from position {at} on).", paramName);
            }
            return Flatten((CompelConjunction)tokens[0], state);
        }
        catch (PpAbortException ex)
        {
            throw new ArgumentException($"compel cannot use the prompt: {ex.Message}.", paramName, ex);
        }
    }

    private static bool IsBlank(string text)
    {
        foreach (char c in text)
        {
            if (!PythonFloat.IsSpace(c))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary><c>re.sub(r',(\S)', r', \1', prompt)</c> with a map from new positions to old ones (empty when no space is inserted).</summary>
    private static (string Text, int[] Map) EnforceSpaceAfterComma(string prompt)
    {
        if (!NeedsSpaceAfterComma(prompt))
        {
            return (prompt, []);
        }
        var sb = new StringBuilder(prompt.Length + 8);
        var map = new List<int>(prompt.Length + 8);
        int i = 0;
        while (i < prompt.Length)
        {
            if (prompt[i] == ',' && i + 1 < prompt.Length && !PythonFloat.IsSpace(prompt[i + 1]))
            {
                sb.Append(", ").Append(prompt[i + 1]);
                map.Add(i);
                map.Add(i);
                map.Add(i + 1);
                i += 2;
                continue;
            }
            sb.Append(prompt[i]);
            map.Add(i);
            i++;
        }
        map.Add(prompt.Length);
        return (sb.ToString(), map.ToArray());
    }

    private static bool NeedsSpaceAfterComma(string prompt)
    {
        for (int i = prompt.IndexOf(',', StringComparison.Ordinal); i >= 0 && i + 1 < prompt.Length; i = prompt.IndexOf(',', i + 1))
        {
            if (!PythonFloat.IsSpace(prompt[i + 1]))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Python's <c>str.expandtabs()</c> (tab stops every 8 columns, columns restart after \n and \r).</summary>
    private static (string Text, int[] Map) ExpandTabs(string text)
    {
        if (!text.Contains('\t', StringComparison.Ordinal))
        {
            return (text, []);
        }
        var sb = new StringBuilder(text.Length + 16);
        var map = new List<int>(text.Length + 16);
        int column = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\t')
            {
                int spaces = 8 - (column % 8);
                for (int s = 0; s < spaces; s++)
                {
                    sb.Append(' ');
                    map.Add(i);
                }
                column += spaces;
                continue;
            }
            sb.Append(c);
            map.Add(i);
            column = c is '\n' or '\r' ? 0 : column + 1;
        }
        map.Add(text.Length);
        return (sb.ToString(), map.ToArray());
    }

    private static int MapBack(int[] map, int position) =>
        map.Length == 0 ? position : map[Math.Clamp(position, 0, map.Length - 1)];

    /// <summary>Whether <paramref name="literal"/> follows <paramref name="loc"/> after the default whitespace.</summary>
    private static bool FollowedBy(string text, int loc, string literal)
    {
        while (loc < text.Length && text[loc] is ' ' or '\n' or '\t' or '\r')
        {
            loc++;
        }
        return text.AsSpan(Math.Min(loc, text.Length)).StartsWith(literal, StringComparison.Ordinal);
    }

    private static PpAnd DelimitedList(PpElement element) =>
        new PpAnd(element, new PpRepeat(new PpAnd(new PpSuppress(new PpLiteral(",")), element), 0));

    /// <summary>parse_fragment_str: a quoted string's content parsed again with <paramref name="expression"/> to its end.</summary>
    private static PpActionResult ParseFragmentString(PpState outer, int loc, string fragment, PpElement expression)
    {
        if (IsBlank(fragment))
        {
            return PpActionResult.One(CompelFragment.Create(string.Empty));
        }
        fragment = fragment.Replace("\"", "\\\"", StringComparison.Ordinal);
        (string expanded, _) = ExpandTabs(fragment);
        var inner = new PpState(expanded) { Outer = outer, Depth = outer.Depth, MapPosition = _ => outer.MapPosition(loc) };
        var whole = new PpAnd(expression, new PpStringEnd());
        return whole.Parse(inner, 0, true, true, out _, out List<object> tokens) ? PpActionResult.Of(tokens) : PpActionResult.Fail;
    }

    private static CompelAttention MakeAttention(PpGroup target, PpGroup weightGroup, double plusBase, double minusBase)
    {
        object raw = weightGroup.Items[0];
        double weight = raw switch
        {
            double d => d,
            string s => Math.Pow(s[0] == '+' ? plusBase : minusBase, s.Length),
            _ => 1.0,
        };
        return new CompelAttention(weight, [.. target.Items]);
    }

    private static CompelSwap MakeSwap(PpState state, int loc, List<object> t)
    {
        var target = ((PpGroup)t[0]).Items;
        var edited = ((PpGroup)t[2]).Items;
        // Dict of the options: CrossAttentionControlSubstitute computes 1 - shape_freedom ** (1/3).
        object? shapeFreedom = null;
        bool hasShapeFreedom = false;
        for (int i = 3; i < t.Count; i++)
        {
            if (t[i] is PpGroup g && g.Items.Count > 0 && g.Items[0] is string key && key == "shape_freedom")
            {
                hasShapeFreedom = true;
                shapeFreedom = g.Items.Count == 2 ? g.Items[1] : string.Empty;
            }
        }
        if (hasShapeFreedom && shapeFreedom is not double)
        {
            throw new PpAbortException($"the .swap() option shape_freedom at position {state.MapPosition(loc)} is not a number", loc);
        }
        return new CompelSwap(
            target.Count > 0 ? [.. target] : [CompelFragment.Create(string.Empty)],
            edited.Count > 0 ? [.. edited] : [CompelFragment.Create(string.Empty)]);
    }

    private static CompelBlend MakeBlend(PpState state, int loc, PpGroup targets, PpGroup optionGroups)
    {
        List<object> prompts = targets.Items.Select(p => (object)ToPrompt(((PpGroup)p).Items, state, loc)).ToList();
        List<object> raw = optionGroups.Items;
        bool normalize = true;
        if (raw.Count > 0 && raw[^1] is PpGroup last && last.Items[0] is string s && s == "no_normalize")
        {
            normalize = false;
            raw = raw[..^1];
        }
        List<double> weights = raw.Select(w => OptionAsFloat((PpGroup)w, state, loc)).ToList();
        return NewBlend(prompts, weights, normalize, state, loc);
    }

    private static CompelBlend NewBlend(List<object> prompts, List<double> weights, bool normalize, PpState state, int loc)
    {
        if (weights.Count == 0)
        {
            weights = Enumerable.Repeat(1.0, prompts.Count).ToList();
        }
        if (weights.Count != prompts.Count)
        {
            throw new PpAbortException($".blend() at position {state.MapPosition(loc)} has {prompts.Count} prompts but {weights.Count} weights", loc);
        }
        foreach (object p in prompts)
        {
            IReadOnlyList<object> children = p is CompelPrompt cp ? cp.Children : ((CompelFlattenedPrompt)p).Children;
            if (children.Any(c => c is CompelSwap))
            {
                throw new PpAbortException($"a .swap() cannot be part of the .blend() at position {state.MapPosition(loc)}", loc);
            }
        }
        return new CompelBlend(prompts, weights, normalize);
    }

    private static CompelConjunction MakeConjunction(PpState state, int loc, PpGroup targets, PpGroup optionGroups)
    {
        List<object> prompts = targets.Items.Select(p => (object)ToPrompt(((PpGroup)p).Items, state, loc)).ToList();
        List<double> weights = optionGroups.Items.Select(w => OptionAsFloat((PpGroup)w, state, loc)).ToList();
        return NewConjunction(prompts, weights, state, loc);
    }

    private static CompelConjunction NewConjunction(List<object> prompts, List<double> weights, PpState state, int loc)
    {
        if (weights.Count == 0)
        {
            weights = Enumerable.Repeat(1.0, prompts.Count).ToList();
        }
        if (weights.Count != prompts.Count)
        {
            throw new PpAbortException($".and() at position {state.MapPosition(loc)} has {prompts.Count} prompts but {weights.Count} weights", loc);
        }
        return new CompelConjunction(prompts, weights);
    }

    /// <summary><c>float(w[0])</c> of one option group.</summary>
    private static double OptionAsFloat(PpGroup option, PpState state, int loc)
    {
        object first = option.Items[0];
        if (first is double d)
        {
            return d;
        }
        string s = (string)first;
        if (!PythonFloat.TryParse(s, out double value))
        {
            throw new PpAbortException($"the weight '{s}' of the operator at position {state.MapPosition(loc)} is not a number", loc);
        }
        return value;
    }

    private static double ParseFloatOrAbort(string s, int loc) =>
        PythonFloat.TryParse(s, out double value) ? value : throw new PpAbortException($"'{s}' is not a number", loc);

    private static CompelPrompt ToPrompt(List<object> parts, PpState state, int loc)
    {
        foreach (object p in parts)
        {
            if (p is not (CompelLora or CompelAttention or CompelFragment or CompelSwap or PpGroup))
            {
                throw new PpAbortException($"a prompt cannot contain {p} (at position {state.MapPosition(loc)})", loc);
            }
        }
        return new CompelPrompt([.. parts]);
    }

    private static CompelConjunction Flatten(CompelConjunction root, PpState state)
    {
        var parts = new List<object>();
        var weights = new List<double>();
        for (int i = 0; i < root.Prompts.Count; i++)
        {
            int before = parts.Count;
            FlattenInternal(root.Prompts[i], 1.0, state, parts);
            if (parts.Count > before)
            {
                weights.Add(root.Weights[i]);
            }
        }
        return new CompelConjunction(parts, weights);
    }

    /// <summary>flatten's results for <paramref name="node"/>, appended to <paramref name="results"/>.</summary>
    private static void FlattenInternal(object node, double weightScale, PpState state, List<object> results)
    {
        switch (node)
        {
            case PpGroup group:
                foreach (object x in group.Items)
                {
                    FlattenInternal(x, weightScale, state, results);
                }
                break;
            case IReadOnlyList<object> list:
                foreach (object x in list)
                {
                    FlattenInternal(x, weightScale, state, results);
                }
                break;
            case CompelAttention attention:
                foreach (object c in attention.Children)
                {
                    FlattenInternal(c, weightScale * attention.Weight, state, results);
                }
                break;
            case CompelLora:
                break;
            case CompelFragment fragment:
                results.Add(CompelFragment.Create(fragment.Text, fragment.Weight * weightScale));
                break;
            case CompelSwap swap:
                var original = new List<object>();
                FlattenInternal(swap.Original, weightScale, state, original);
                var edited = new List<object>();
                FlattenInternal(swap.Edited, weightScale, state, edited);
                results.Add(new CompelSwap(original, edited));
                break;
            case CompelBlend blend:
                var subprompts = new List<object>();
                foreach (object prompt in blend.Prompts)
                {
                    FlattenInternal(prompt, weightScale, state, subprompts);
                }
                results.Add(NewBlend(subprompts, [.. blend.Weights], blend.Normalize, state, 0));
                break;
            case CompelPrompt prompt:
                var unfused = new List<object>();
                foreach (object child in prompt.Children)
                {
                    FlattenInternal(child, weightScale, state, unfused);
                }
                List<object> fused = FuseFragments(unfused);
                if (fused.Count > 0)
                {
                    results.Add(new CompelFlattenedPrompt(fused));
                }
                break;
            default:
                throw new PpAbortException($"unhandled node {node}", 0);
        }
    }

    /// <summary>
    /// fuse_fragments: runs of fragments of equal weight joined with spaces. compel re-creates the joined Fragment at
    /// every merge, which applies Fragment's unescaping to the text so far once more each time (each application
    /// drops one backslash of every run of backslashes before <c>(</c>, <c>)</c> or <c>"</c>); that is computed here
    /// per part instead of on the growing text, so fusing is linear.
    /// </summary>
    private static List<object> FuseFragments(IReadOnlyList<object> items)
    {
        var fused = new List<object>();
        var run = new List<CompelFragment>();

        void Flush()
        {
            if (run.Count == 1)
            {
                fused.Add(run[0]);
            }
            else if (run.Count > 1)
            {
                var text = new StringBuilder();
                int k = run.Count;
                for (int i = 0; i < k; i++)
                {
                    if (i > 0)
                    {
                        text.Append(' ');
                    }
                    text.Append(Unescape(run[i].Text, i == 0 ? k - 1 : k - i));
                }
                fused.Add(new CompelFragment(text.ToString(), run[0].Weight));
            }
            run.Clear();
        }

        foreach (object x in items)
        {
            if (x is CompelSwap swap)
            {
                Flush();
                fused.Add(new CompelSwap(FuseFragments(swap.Original), FuseFragments(swap.Edited)));
                continue;
            }
            var fragment = (CompelFragment)x;
            if (run.Count > 0 && run[^1].Weight != fragment.Weight)
            {
                Flush();
            }
            run.Add(fragment);
        }
        Flush();
        return fused;
    }

    /// <summary>Fragment.__init__'s three replaces applied <paramref name="times"/> times.</summary>
    private static string Unescape(string text, int times)
    {
        if (times <= 0 || !text.Contains('\\', StringComparison.Ordinal))
        {
            return text;
        }
        var sb = new StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            if (text[i] != '\\')
            {
                sb.Append(text[i++]);
                continue;
            }
            int start = i;
            while (i < text.Length && text[i] == '\\')
            {
                i++;
            }
            int length = i - start;
            if (i < text.Length && text[i] is '(' or ')' or '"')
            {
                length -= Math.Min(times, length);
            }
            sb.Append('\\', length);
        }
        return sb.ToString();
    }
}
