namespace Spright.Diffusion.Hub;

/// <summary>
/// Python's <c>fnmatch</c> on repository paths, as huggingface_hub's <c>filter_repo_objects</c> and diffusers use it:
/// <c>*</c> matches any run of characters including <c>/</c>, <c>?</c> one character, <c>[seq]</c> / <c>[!seq]</c> a set
/// (ranges <c>a-z</c>; <c>]</c> first is literal; an unclosed <c>[</c> is literal); the whole path must match. Case is
/// folded on Windows, where <c>fnmatch.fnmatch</c> applies <c>os.path.normcase</c>.
/// </summary>
internal sealed class GlobPattern
{
    private readonly Token[] _tokens;
    private readonly bool _ignoreCase;

    private GlobPattern(Token[] tokens, bool ignoreCase)
    {
        _tokens = tokens;
        _ignoreCase = ignoreCase;
    }

    public static GlobPattern Parse(string pattern, bool? ignoreCase = null)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        bool fold = ignoreCase ?? OperatingSystem.IsWindows();
        string pat = fold ? pattern.ToUpperInvariant() : pattern;
        var tokens = new List<Token>();
        int i = 0;
        int n = pat.Length;
        while (i < n)
        {
            char c = pat[i++];
            if (c == '*')
            {
                if (tokens.Count == 0 || tokens[^1].Kind != TokenKind.Star)
                {
                    tokens.Add(new Token(TokenKind.Star, default, null, false));
                }
            }
            else if (c == '?')
            {
                tokens.Add(new Token(TokenKind.AnyChar, default, null, false));
            }
            else if (c == '[')
            {
                int j = i;
                if (j < n && pat[j] == '!')
                {
                    j++;
                }
                if (j < n && pat[j] == ']')
                {
                    j++;
                }
                while (j < n && pat[j] != ']')
                {
                    j++;
                }
                if (j >= n)
                {
                    tokens.Add(new Token(TokenKind.Literal, '[', null, false));
                    continue;
                }
                string stuff = pat[i..j];
                i = j + 1;
                bool negate = stuff.Length > 0 && stuff[0] == '!';
                if (negate)
                {
                    stuff = stuff[1..];
                }
                tokens.Add(new Token(TokenKind.Set, default, ParseRanges(stuff), negate));
            }
            else
            {
                tokens.Add(new Token(TokenKind.Literal, c, null, false));
            }
        }
        return new GlobPattern([.. tokens], fold);
    }

    /// <summary>Whether <paramref name="path"/> matches the pattern as a whole.</summary>
    public bool IsMatch(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string s = _ignoreCase ? path.ToUpperInvariant() : path;
        int p = 0;
        int si = 0;
        int starP = -1;
        int starS = 0;
        while (si < s.Length)
        {
            if (p < _tokens.Length && _tokens[p].Kind != TokenKind.Star && _tokens[p].Matches(s[si]))
            {
                p++;
                si++;
            }
            else if (p < _tokens.Length && _tokens[p].Kind == TokenKind.Star)
            {
                starP = p++;
                starS = si;
            }
            else if (starP >= 0)
            {
                p = starP + 1;
                si = ++starS;
            }
            else
            {
                return false;
            }
        }
        while (p < _tokens.Length && _tokens[p].Kind == TokenKind.Star)
        {
            p++;
        }
        return p == _tokens.Length;
    }

    /// <summary>Whether <paramref name="path"/> matches any of <paramref name="patterns"/>.</summary>
    public static bool MatchesAny(IEnumerable<GlobPattern> patterns, string path) => patterns.Any(g => g.IsMatch(path));

    /// <summary>The set inside brackets: <c>a-z</c> ranges (an empty range such as <c>z-a</c> matches nothing), a
    /// leading or trailing <c>-</c> literal, everything else (backslash included) literal.</summary>
    private static (char Low, char High)[] ParseRanges(string stuff)
    {
        var ranges = new List<(char, char)>();
        int k = 0;
        while (k < stuff.Length)
        {
            char low = stuff[k];
            if (k + 2 < stuff.Length && stuff[k + 1] == '-')
            {
                char high = stuff[k + 2];
                if (low <= high)
                {
                    ranges.Add((low, high));
                }
                k += 3;
            }
            else
            {
                ranges.Add((low, low));
                k++;
            }
        }
        return [.. ranges];
    }

    private enum TokenKind
    {
        Literal,
        AnyChar,
        Star,
        Set,
    }

    private readonly record struct Token(TokenKind Kind, char Char, (char Low, char High)[]? Ranges, bool Negate)
    {
        public bool Matches(char c)
        {
            switch (Kind)
            {
                case TokenKind.Literal:
                    return c == Char;
                case TokenKind.AnyChar:
                    return true;
                case TokenKind.Set:
                    bool inSet = false;
                    foreach ((char low, char high) in Ranges!)
                    {
                        if (c >= low && c <= high)
                        {
                            inSet = true;
                            break;
                        }
                    }
                    return inSet != Negate;
                default:
                    return false;
            }
        }
    }
}
