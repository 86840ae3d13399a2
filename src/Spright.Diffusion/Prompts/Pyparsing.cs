using System.Runtime.CompilerServices;
using System.Text;

namespace Spright.Diffusion.Prompts;

// A small PEG engine with pyparsing 3.0.9's matching rules, enough to run compel 2.2.1's prompt grammar unchanged:
// leading-whitespace skipping decided per element as pyparsing decides it (ParserElement.preParse, the flags that
// And / MatchFirst / ParseElementEnhance / Forward / Combine copy from their children when they are built),
// Combine's leave_whitespace on copies of its contents, token lists, Group, Suppress, parse actions that replace
// the tokens or fail the match (a pyparsing ParseException raised in a parse action). Two deliberate differences
// from pyparsing: results of Forward elements are memoised per position (pyparsing's optional "packrat" mode: the
// same results, but linear instead of exponential time on nested parentheses), and nesting deeper than
// PpState.MaxDepth is an error instead of Python's RecursionError.

/// <summary>A nested token list (pyparsing's Group result).</summary>
internal sealed class PpGroup(List<object> items)
{
    public List<object> Items { get; } = items;
}

/// <summary>An error that aborts the whole parse (Python exceptions other than ParseException).</summary>
internal sealed class PpAbortException(string message, int position) : Exception(message)
{
    public int Position { get; } = position;
}

/// <summary>The state of one parse_string call.</summary>
internal sealed class PpState(string text)
{
    /// <summary>The deepest Forward nesting allowed (about half as many parentheses).</summary>
    public const int MaxDepth = 160;

    public string Text { get; } = text;

    /// <summary>The memoised results, by element and position (about one entry for every two characters of a prompt).</summary>
    public Dictionary<long, (bool Ok, int End, List<object> Tokens)> Memo { get; } = new(text.Length / 2 + 16);

    public int Depth { get; set; }

    /// <summary>The parse_string call this one runs inside (a quoted fragment), if any.</summary>
    public PpState? Outer { get; init; }

    /// <summary>The furthest position where a match failed (for error messages).</summary>
    public int FurthestFailure { get; set; } = -1;

    /// <summary>Maps a position of <see cref="Text"/> to one of the caller's text.</summary>
    public Func<int, int> MapPosition { get; init; } = p => p;
}

/// <summary>What a parse action returns: new tokens, or a failed match.</summary>
internal readonly struct PpActionResult
{
    private PpActionResult(List<object>? tokens, bool failed)
    {
        Tokens = tokens;
        Failed = failed;
    }

    public List<object>? Tokens { get; }

    public bool Failed { get; }

    public static PpActionResult Fail => new(null, true);

    public static PpActionResult Of(List<object> tokens) => new(tokens, false);

    public static PpActionResult One(object token) => new([token], false);
}

internal abstract class PpElement
{
    public const string DefaultWhiteChars = " \n\t\r";

    /// <summary>The shared empty token list (token lists are never changed once returned).</summary>
    protected static readonly List<object> NoTokens = [];

    private static int s_memoIds;
    private bool _memoize;
    private long _memoId;

    /// <summary>Whether results are memoised per position (packrat parsing for this element).</summary>
    public bool Memoize
    {
        get => _memoize;
        set
        {
            _memoize = value;
            _memoId = (long)Interlocked.Increment(ref s_memoIds) << 32;
        }
    }

    /// <summary>When set, the characters a match can start with (a shortcut that changes no result).</summary>
    public string? FirstChars { get; set; }

    /// <summary>When set, a condition every match at a position meets (a shortcut that changes no result).</summary>
    public Func<PpState, int, bool>? Guard { get; set; }

    public bool SkipWhitespace { get; set; } = true;

    public string WhiteChars { get; set; } = DefaultWhiteChars;

    public bool CallPreparse { get; set; } = true;

    public Func<PpState, int, List<object>, PpActionResult>? Action { get; set; }

    public PpElement WithAction(Func<PpState, int, List<object>, PpActionResult> action)
    {
        Action = action;
        return this;
    }

    public int PreParse(string text, int loc)
    {
        if (!SkipWhitespace)
        {
            return loc;
        }
        if (ReferenceEquals(WhiteChars, DefaultWhiteChars))
        {
            while (loc < text.Length && text[loc] is ' ' or '\n' or '\t' or '\r')
            {
                loc++;
            }
            return loc;
        }
        while (loc < text.Length && WhiteChars.Contains(text[loc], StringComparison.Ordinal))
        {
            loc++;
        }
        return loc;
    }

    public bool Parse(PpState state, int loc, bool doActions, bool callPreParse, out int end, out List<object> tokens)
    {
        int start = callPreParse && CallPreparse ? PreParse(state.Text, loc) : loc;
        if (FirstChars is not null && (start >= state.Text.Length || !FirstChars.Contains(state.Text[start], StringComparison.Ordinal)))
        {
            return Fail(out end, out tokens);
        }
        if (Guard is not null && doActions && !Guard(state, start))
        {
            return Fail(out end, out tokens);
        }
        if (!Memoize || !doActions)
        {
            return ParseAt(state, start, doActions, out end, out tokens);
        }
        if (state.Memo.TryGetValue(_memoId | (uint)start, out (bool Ok, int End, List<object> Tokens) memo))
        {
            end = memo.End;
            tokens = memo.Tokens;
            return memo.Ok;
        }
        bool ok = ParseAt(state, start, doActions, out end, out tokens);
        state.Memo[_memoId | (uint)start] = (ok, end, tokens);
        return ok;
    }

    private bool ParseAt(PpState state, int start, bool doActions, out int end, out List<object> tokens)
    {
        if (!ParseImpl(state, start, doActions, out end, out tokens))
        {
            if (start > state.FurthestFailure)
            {
                state.FurthestFailure = start;
            }
            return false;
        }
        tokens = PostParse(tokens);
        if (Action is not null && doActions)
        {
            PpActionResult result = Action(state, start, tokens);
            if (result.Failed)
            {
                return false;
            }
            tokens = result.Tokens ?? tokens;
        }
        return true;
    }

    public bool CanParseNext(PpState state, int loc) => Parse(state, loc, false, true, out _, out _);

    protected abstract bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens);

    protected virtual List<object> PostParse(List<object> tokens) => tokens;

    public virtual PpElement Copy()
    {
        var copy = (PpElement)MemberwiseClone();
        if (copy._memoize)
        {
            copy.Memoize = true; // its own memo entries
        }
        return copy;
    }

    /// <summary>pyparsing's leave_whitespace(recursive=True): no skipping here, nor in copies of the children.</summary>
    public virtual void LeaveWhitespace() => SkipWhitespace = false;

    /// <summary>The token list [text[start..end]] (one-character ASCII tokens, the spaces and punctuation, shared
    /// instead of allocated: token lists are never changed).</summary>
    protected static List<object> TextToken(string text, int start, int end)
    {
        if (end - start == 1 && text[start] < (char)AsciiTokens.Length)
        {
            return AsciiTokens[text[start]];
        }
        return [text[start..end]];
    }

    private static readonly List<object>[] AsciiTokens = CreateAsciiTokens();

    private static List<object>[] CreateAsciiTokens()
    {
        var tokens = new List<object>[128];
        for (int c = 0; c < tokens.Length; c++)
        {
            tokens[c] = [((char)c).ToString()];
        }
        return tokens;
    }

    protected static bool Fail(out int end, out List<object> tokens)
    {
        end = 0;
        tokens = NoTokens;
        return false;
    }

    protected static bool Match(int endLoc, List<object> result, out int end, out List<object> tokens)
    {
        end = endLoc;
        tokens = result;
        return true;
    }
}

internal sealed class PpLiteral(string literal) : PpElement
{
    /// <summary>The one token list every match returns (token lists are never changed).</summary>
    private readonly List<object> _tokens = [literal];

    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens) =>
        loc <= state.Text.Length && state.Text.AsSpan(loc).StartsWith(literal, StringComparison.Ordinal)
            ? Match(loc + literal.Length, _tokens, out end, out tokens)
            : Fail(out end, out tokens);
}

/// <summary>Word(chars) (also Char(chars) with <c>exact</c> 1): a run of characters from a set.</summary>
internal sealed class PpWord(string chars, int maxLength = int.MaxValue) : PpElement
{
    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        string text = state.Text;
        int i = loc;
        while (i < text.Length && i - loc < maxLength && chars.Contains(text[i], StringComparison.Ordinal))
        {
            i++;
        }
        return i > loc ? Match(i, TextToken(text, loc, i), out end, out tokens) : Fail(out end, out tokens);
    }
}

/// <summary>pyparsing_common.real: <c>[+-]?(?:\d+\.\d*|\.\d+)</c> (Unicode digits) converted with Python's float().</summary>
internal sealed class PpReal : PpElement
{
    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        string text = state.Text;
        int i = loc;
        if (i < text.Length && text[i] is '+' or '-')
        {
            i++;
        }
        int intStart = i;
        i = SkipDigits(text, i);
        bool hasInt = i > intStart;
        if (i >= text.Length || text[i] != '.')
        {
            return Fail(out end, out tokens);
        }
        i++;
        int fracStart = i;
        i = SkipDigits(text, i);
        if (!hasInt && i == fracStart)
        {
            return Fail(out end, out tokens);
        }
        if (!PythonFloat.TryParse(text[loc..i], out double value))
        {
            return Fail(out end, out tokens);
        }
        return Match(i, [value], out end, out tokens);
    }

    private static int SkipDigits(string text, int i)
    {
        while (i < text.Length)
        {
            int length = PythonFloat.DigitLength(text, i);
            if (length == 0)
            {
                break;
            }
            i += length;
        }
        return i;
    }
}

/// <summary>CharsNotIn(chars, exact=…): never skips whitespace.</summary>
internal sealed class PpCharsNotIn : PpElement
{
    private readonly string _notChars;
    private readonly int _max;

    public PpCharsNotIn(string notChars, int max = int.MaxValue)
    {
        _notChars = notChars;
        _max = max;
        SkipWhitespace = false;
    }

    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        string text = state.Text;
        int i = loc;
        while (i < text.Length && i - loc < _max && !_notChars.Contains(text[i], StringComparison.Ordinal))
        {
            i++;
        }
        return i > loc ? Match(i, TextToken(text, loc, i), out end, out tokens) : Fail(out end, out tokens);
    }
}

/// <summary>White(" \t\r\n"): skips the other Unicode spaces pyparsing knows before matching.</summary>
internal sealed class PpWhite : PpElement
{
    private const string Matched = " \t\r\n";

    public PpWhite()
    {
        WhiteChars = "\f\u00a0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u202f\u205f\u3000";
    }

    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        string text = state.Text;
        int i = loc;
        while (i < text.Length && Matched.Contains(text[i], StringComparison.Ordinal))
        {
            i++;
        }
        return i > loc ? Match(i, TextToken(text, loc, i), out end, out tokens) : Fail(out end, out tokens);
    }
}

/// <summary>
/// compel's <c>non_syntax_word</c>, <c>Combine(OneOrMore(MatchFirst([Or(escaped symbols), one_of('-','+') +
/// NotAny(White() | Char(syntax) | StringEnd()), Combine(Optional('-') + Word(nums)), CharsNotIn(whitespace + syntax,
/// exact=1)])))</c>, as one scan: the combined text is exactly the characters those alternatives consume. Inside the
/// Combine nothing skips whitespace; the element itself skips the default whitespace like a Combine.
/// </summary>
internal sealed class PpNonSyntaxWord(string whitespace, string syntax) : PpElement
{
    private const string EscapedSymbols = "()\",.+-=";
    private const string WhiteMatched = " \t\r\n";

    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        string text = state.Text;
        int i = Scan(text, loc);
        return i > loc ? Match(i, TextToken(text, loc, i), out end, out tokens) : Fail(out end, out tokens);
    }

    /// <summary>Where the word starting at <paramref name="loc"/> ends (<paramref name="loc"/> itself: no word).</summary>
    public int Scan(string text, int loc)
    {
        int i = loc;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == '\\' && i + 1 < text.Length && EscapedSymbols.Contains(text[i + 1], StringComparison.Ordinal))
            {
                i += 2;
                continue;
            }
            if (c is '-' or '+')
            {
                if (i + 1 >= text.Length || WhiteMatched.Contains(text[i + 1], StringComparison.Ordinal) || syntax.Contains(text[i + 1], StringComparison.Ordinal))
                {
                    break;
                }
                i++;
                continue;
            }
            if (whitespace.Contains(c, StringComparison.Ordinal) || syntax.Contains(c, StringComparison.Ordinal))
            {
                break;
            }
            i++;
        }
        return i;
    }
}

internal sealed class PpStringEnd : PpElement
{
    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        if (loc < state.Text.Length)
        {
            return Fail(out end, out tokens);
        }
        return Match(loc == state.Text.Length ? loc + 1 : loc, NoTokens, out end, out tokens);
    }
}

/// <summary>QuotedString('"', esc_quote='\\"'): <c>"(?:\\"|[^"\n\r])*"</c> with the regex's backtracking, then
/// unquoted (whitespace escapes converted, <c>\"</c> to <c>"</c>).</summary>
internal sealed class PpQuotedString : PpElement
{
    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        string text = state.Text;
        if (loc >= text.Length || text[loc] != '"')
        {
            return Fail(out end, out tokens);
        }
        int i = loc + 1;
        int lastEscapedQuote = -1;
        int close = -1;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == '\\' && i + 1 < text.Length && text[i + 1] == '"')
            {
                lastEscapedQuote = i + 1;
                i += 2;
                continue;
            }
            if (c == '"')
            {
                close = i;
                break;
            }
            if (c is '\n' or '\r')
            {
                break;
            }
            i++;
        }
        if (close < 0)
        {
            // Backtracking: the last \" pair read as a backslash followed by the closing quote.
            if (lastEscapedQuote < 0)
            {
                return Fail(out end, out tokens);
            }
            close = lastEscapedQuote;
        }
        string content = text[(loc + 1)..close];
        if (content.Contains('\\', StringComparison.Ordinal))
        {
            content = content.Replace("\\t", "\t", StringComparison.Ordinal).Replace("\\n", "\n", StringComparison.Ordinal)
                .Replace("\\f", "\f", StringComparison.Ordinal).Replace("\\r", "\r", StringComparison.Ordinal);
        }
        content = content.Replace("\\\"", "\"", StringComparison.Ordinal);
        return Match(close + 1, [content], out end, out tokens);
    }
}

internal abstract class PpExpression : PpElement
{
    protected PpExpression(PpElement[] children)
    {
        Children = children;
        CallPreparse = false;
    }

    public PpElement[] Children { get; private set; }

    public override void LeaveWhitespace()
    {
        base.LeaveWhitespace();
        Children = Array.ConvertAll(Children, c => c.Copy());
        foreach (PpElement child in Children)
        {
            child.LeaveWhitespace();
        }
    }
}

internal sealed class PpAnd : PpExpression
{
    public PpAnd(params PpElement[] children)
        : base(children)
    {
        if (children[0] is not PpWhite)
        {
            WhiteChars = children[0].WhiteChars;
            SkipWhitespace = children[0].SkipWhitespace;
        }
        else
        {
            SkipWhitespace = false;
        }
        CallPreparse = true;
    }

    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        if (!Children[0].Parse(state, loc, doActions, false, out loc, out List<object> first))
        {
            return Fail(out end, out tokens);
        }
        // Token lists are never changed once returned: a lone non-empty child list is passed on as it is, and a new
        // list is only made when two children have tokens.
        List<object> single = first;
        List<object>? result = null;
        for (int i = 1; i < Children.Length; i++)
        {
            if (!Children[i].Parse(state, loc, doActions, true, out loc, out List<object> more))
            {
                return Fail(out end, out tokens);
            }
            if (more.Count == 0)
            {
                continue;
            }
            if (result is not null)
            {
                result.AddRange(more);
            }
            else if (single.Count == 0)
            {
                single = more;
            }
            else
            {
                result = new List<object>(single.Count + more.Count + 4);
                result.AddRange(single);
                result.AddRange(more);
            }
        }
        return Match(loc, result ?? single, out end, out tokens);
    }
}

/// <summary>MatchFirst (and Or, whose alternatives here never match the same text).</summary>
internal sealed class PpMatchFirst : PpExpression
{
    public PpMatchFirst(params PpElement[] children)
        : base(children)
    {
        SkipWhitespace = Array.TrueForAll(children, c => c.SkipWhitespace);
    }

    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        foreach (PpElement child in Children)
        {
            if (child.Parse(state, loc, doActions, true, out end, out tokens))
            {
                return true;
            }
        }
        return Fail(out end, out tokens);
    }
}

internal abstract class PpEnhance : PpElement
{
    protected PpEnhance(PpElement? inner)
    {
        if (inner is not null)
        {
            CopyFlagsFrom(inner);
            CallPreparse = inner.CallPreparse;
        }
        Inner = inner;
    }

    public PpElement? Inner { get; protected set; }

    protected void CopyFlagsFrom(PpElement inner)
    {
        WhiteChars = inner.WhiteChars;
        SkipWhitespace = inner.SkipWhitespace;
    }

    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens) =>
        Inner!.Parse(state, loc, doActions, false, out end, out tokens);

    public override void LeaveWhitespace()
    {
        base.LeaveWhitespace();
        Inner = Inner!.Copy();
        Inner.LeaveWhitespace();
    }
}

internal sealed class PpNotAny : PpEnhance
{
    public PpNotAny(PpElement inner)
        : base(inner)
    {
        SkipWhitespace = false;
    }

    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens) =>
        Inner!.CanParseNext(state, loc) ? Fail(out end, out tokens) : Match(loc, NoTokens, out end, out tokens);
}

internal sealed class PpRepeat(PpElement inner, int min) : PpEnhance(inner)
{
    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        // As in PpAnd: a new list only when two matches have tokens.
        List<object> single = NoTokens;
        List<object>? result = null;
        int count = 0;
        while (Inner!.Parse(state, loc, doActions, true, out int next, out List<object> more))
        {
            if (more.Count > 0)
            {
                if (result is not null)
                {
                    result.AddRange(more);
                }
                else if (single.Count == 0)
                {
                    single = more;
                }
                else
                {
                    result = new List<object>(16);
                    result.AddRange(single);
                    result.AddRange(more);
                }
            }
            count++;
            // pyparsing does not stop on an empty match either; here every repeated element consumes input.
            if (next == loc)
            {
                break;
            }
            loc = next;
        }
        return count >= min ? Match(loc, result ?? single, out end, out tokens) : Fail(out end, out tokens);
    }
}

internal sealed class PpOptional(PpElement inner) : PpEnhance(inner)
{
    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens) =>
        Inner!.Parse(state, loc, doActions, false, out end, out tokens) || Match(loc, NoTokens, out end, out tokens);
}

internal sealed class PpGroupOf(PpElement inner) : PpEnhance(inner)
{
    protected override List<object> PostParse(List<object> tokens) => [new PpGroup(tokens)];
}

internal sealed class PpSuppress(PpElement inner) : PpEnhance(inner)
{
    protected override List<object> PostParse(List<object> tokens) => NoTokens;
}

/// <summary>Dict: the tokens stay as they are (the names it adds are read by the parse actions themselves).</summary>
internal sealed class PpDict(PpElement inner) : PpEnhance(inner);

internal sealed class PpCombine : PpEnhance
{
    public PpCombine(PpElement inner)
        : base(inner)
    {
        LeaveWhitespace();
        SkipWhitespace = true;
        CallPreparse = true;
    }

    protected override List<object> PostParse(List<object> tokens)
    {
        var joined = new StringBuilder();
        foreach (object token in tokens)
        {
            joined.Append((string)token);
        }
        return [joined.ToString()];
    }
}

internal sealed class PpForward : PpEnhance
{
    public PpForward()
        : base(null)
    {
    }

    public void Set(PpElement inner)
    {
        Inner = inner;
        CopyFlagsFrom(inner);
        Memoize = true;
    }

    protected override bool ParseImpl(PpState state, int loc, bool doActions, out int end, out List<object> tokens)
    {
        if (state.Depth >= PpState.MaxDepth || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw new PpAbortException($"the prompt nests parentheses or operators too deeply (at position {state.MapPosition(loc)})", loc);
        }
        state.Depth++;
        try
        {
            return Inner!.Parse(state, loc, doActions, false, out end, out tokens);
        }
        finally
        {
            state.Depth--;
        }
    }
}
