using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization;

/// <summary>
/// Splits raw text on added tokens the way transformers' slow tokenizers do (<c>tokenization_utils.py</c>: the
/// added-token trie takes the leftmost, then longest match; then each token's lstrip/rstrip/single_word flags are
/// applied to its neighbours). For SD 2.x this is what turns every <c>!</c> of a prompt into the pad id.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<string, AddedToken> _tokens;
    private readonly string[] _byLength;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _tokens = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (AddedToken token in tokens)
        {
            if (token.Content.Length > 0)
            {
                _tokens[token.Content] = token;
            }
        }
        _byLength = _tokens.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Looks up an added token by its exact content.</summary>
    public bool TryGet(string content, out AddedToken token) => _tokens.TryGetValue(content, out token!);

    /// <summary>
    /// The pieces of <paramref name="text"/>, in order, without empty ones: each is either an added token's content
    /// (<see cref="TryGet"/> finds it) or text for the regular tokenizer.
    /// </summary>
    public List<string> Split(string text)
    {
        var pieces = new List<string>();
        int pieceStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            string? match = null;
            foreach (string candidate in _byLength)
            {
                if (i + candidate.Length <= text.Length && string.CompareOrdinal(text, i, candidate, 0, candidate.Length) == 0)
                {
                    match = candidate;
                    break;
                }
            }
            if (match is null)
            {
                i++;
                continue;
            }
            if (i > pieceStart)
            {
                pieces.Add(text.Substring(pieceStart, i - pieceStart));
            }
            pieces.Add(match);
            i += match.Length;
            pieceStart = i;
        }
        if (pieceStart < text.Length || pieces.Count == 0)
        {
            pieces.Add(text.Substring(pieceStart));
        }

        for (int p = 0; p < pieces.Count; p++)
        {
            if (!_tokens.TryGetValue(pieces[p], out AddedToken? token))
            {
                continue;
            }
            string? left = p > 0 ? pieces[p - 1] : null;
            string? right = p < pieces.Count - 1 ? pieces[p + 1] : null;
            if (token.RStrip && !string.IsNullOrEmpty(right))
            {
                pieces[p + 1] = LStrip(right);
            }
            if (token.LStrip && !string.IsNullOrEmpty(left))
            {
                pieces[p - 1] = RStrip(left);
            }
            if (token.SingleWord && !string.IsNullOrEmpty(left) && left[^1] != ' ')
            {
                pieces[p - 1] += pieces[p];
                pieces[p] = string.Empty;
            }
            else if (token.SingleWord && !string.IsNullOrEmpty(right) && right[0] != ' ')
            {
                pieces[p + 1] = pieces[p] + pieces[p + 1];
                pieces[p] = string.Empty;
            }
        }
        pieces.RemoveAll(string.IsNullOrEmpty);
        return pieces;
    }

    private static string LStrip(string text)
    {
        int start = 0;
        while (start < text.Length)
        {
            int cp = CodePoints.At(text, start, out int l);
            if (!PythonText.IsSpace(cp))
            {
                break;
            }
            start += l;
        }
        return text.Substring(start);
    }

    private static string RStrip(string text)
    {
        int end = text.Length;
        while (end > 0)
        {
            int start = end - 1;
            if (start > 0 && char.IsLowSurrogate(text[start]) && char.IsHighSurrogate(text[start - 1]))
            {
                start--;
            }
            if (!PythonText.IsSpace(CodePoints.At(text, start, out _)))
            {
                break;
            }
            end = start;
        }
        return text.Substring(0, end);
    }
}
