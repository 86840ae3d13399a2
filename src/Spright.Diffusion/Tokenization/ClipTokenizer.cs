using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.ML.Tokenizers;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization;

/// <summary>
/// The CLIP tokenizer of Stable Diffusion 2.x and SPRIGHT-T2I, giving the same ids as transformers' slow
/// <c>CLIPTokenizer</c>: added tokens (including SD 2.x's pad token <c>!</c>, id 0) are split off the raw prompt,
/// each remaining piece is cleaned (BasicTokenizer-style by default, or ftfy's <c>fix_text</c>), lower-cased, split
/// by CLIP's pattern and encoded by Microsoft.ML.Tokenizers' byte-level BPE with the <c>&lt;/w&gt;</c> end-of-word
/// suffix. Instances are immutable and safe to use from several threads.
/// </summary>
public sealed class ClipTokenizer : IPromptTokenizer
{
    private const string EndOfWordSuffix = "</w>";

    private readonly BpeTokenizer _bpe;
    private readonly AddedTokenSplitter _addedTokens;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly Dictionary<int, string> _vocabById;
    private readonly Dictionary<string, int> _vocab;
    private readonly bool _cleanUpTokenizationSpaces;
    private readonly Encoding _utf8;
    private readonly ILogger? _logger;

    private ClipTokenizer(ClipTokenizerFiles files, BpeTokenizer bpe, ClipTokenizerOptions options)
    {
        _bpe = bpe;
        _vocab = files.Vocabulary;
        _addedTokens = new AddedTokenSplitter(files.AddedTokens);
        _addedById = new Dictionary<int, AddedToken>();
        foreach (AddedToken token in files.AddedTokens)
        {
            _addedById[token.Id] = token;
        }
        _vocabById = new Dictionary<int, string>(files.Vocabulary.Count);
        foreach (KeyValuePair<string, int> entry in files.Vocabulary)
        {
            _vocabById[entry.Value] = entry.Key;
        }
        _cleanUpTokenizationSpaces = files.CleanUpTokenizationSpaces;
        _utf8 = files.DecodeErrors switch
        {
            "strict" => new UTF8Encoding(false, throwOnInvalidBytes: true),
            "ignore" => Encoding.GetEncoding("utf-8", EncoderFallback.ReplacementFallback, new DecoderReplacementFallback(string.Empty)),
            _ => new UTF8Encoding(false, throwOnInvalidBytes: false),
        };
        _logger = options.Logger;
        UsesFtfy = options.UseFtfy;
        ModelMaxLength = files.ModelMaxLength;
        VocabSize = files.Vocabulary.Count;
        UnkTokenId = LookUp(files, files.UnkToken);
        BosTokenId = TokenToId(files.BosToken);
        EosTokenId = TokenToId(files.EosToken);
        PadTokenId = TokenToId(files.PadToken);
    }

    /// <inheritdoc/>
    public int ModelMaxLength { get; }

    /// <summary>The id of the start token (<c>&lt;|startoftext|&gt;</c>, 49406 for CLIP).</summary>
    public int BosTokenId { get; }

    /// <summary>The id of the end token (<c>&lt;|endoftext|&gt;</c>, 49407 for CLIP).</summary>
    public int EosTokenId { get; }

    /// <summary>The id rows are padded with (0, the token <c>!</c>, for SD 2.x; the end token for SD 1.x).</summary>
    public int PadTokenId { get; }

    /// <summary>The id of tokens missing from the vocabulary.</summary>
    public int UnkTokenId { get; }

    /// <summary>The number of entries of vocab.json (transformers' <c>vocab_size</c>, 49408 for CLIP).</summary>
    public int VocabSize { get; }

    /// <summary>Whether prompts are cleaned with the ftfy port (<see cref="ClipTokenizerOptions.UseFtfy"/>).</summary>
    public bool UsesFtfy { get; }

    /// <summary>
    /// Loads a tokenizer from a hub <c>tokenizer/</c> folder: vocab.json, merges.txt, tokenizer_config.json
    /// (model_max_length and token settings) and, when present, special_tokens_map.json (whose entries win).
    /// </summary>
    /// <param name="tokenizerDirectory">The folder.</param>
    /// <param name="options">Clean-up variant and logger; defaults when <see langword="null"/>.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentException">The folder path is null or empty.</exception>
    /// <exception cref="ModelLoadException">A file is missing, too large, or not what a CLIP tokenizer needs.</exception>
    public static ClipTokenizer FromPretrained(string tokenizerDirectory, ClipTokenizerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tokenizerDirectory);
        options ??= new ClipTokenizerOptions();
        ClipTokenizerFiles files = ClipTokenizerFiles.Load(tokenizerDirectory);

        ITextCleaner cleaner = options.UseFtfy ? FtfyTextCleaner.Instance : BasicTextCleaner.Instance;
        var literalIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string literal in new[] { ClipPreTokenizer.StartOfText, ClipPreTokenizer.EndOfText })
        {
            // CLIPTokenizer's BPE cache returns these two literals unchanged; they then map like any token.
            literalIds[literal] = LookUp(files, literal);
        }
        var bpeOptions = new BpeOptions(files.Vocabulary)
        {
            Merges = files.Merges,
            PreTokenizer = ClipPreTokenizer.Instance,
            Normalizer = new ClipTextNormalizer(cleaner),
            SpecialTokens = literalIds,
            UnknownToken = files.Vocabulary.ContainsKey(files.UnkToken) ? files.UnkToken : null,
            EndOfWordSuffix = EndOfWordSuffix,
            ByteLevel = true,
        };
        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(bpeOptions);
        }
        catch (InvalidOperationException ex)
        {
            throw new ModelLoadException(Path.Combine(tokenizerDirectory, ClipTokenizerFiles.MergesFile),
                $"does not fit {ClipTokenizerFiles.VocabFile}: {ex.Message}", ex);
        }
        return new ClipTokenizer(files, bpe, options);
    }

    /// <summary>
    /// The tokens of a prompt, like transformers' <c>tokenizer.tokenize(prompt)</c>: byte-level BPE strings
    /// (<c>"cat&lt;/w&gt;"</c>), added tokens as their text, no start or end token.
    /// </summary>
    /// <param name="text">The prompt.</param>
    /// <returns>The tokens.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    public IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<string>();
        Run(text, tokens, null);
        return tokens;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="prompt"/> is null.</exception>
    public int[] Encode(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var ids = new List<int>(32) { BosTokenId };
        Run(prompt, null, ids);
        ids.Add(EosTokenId);
        return ids.ToArray();
    }

    /// <inheritdoc/>
    /// <remarks>Equals transformers' <c>tokenizer(prompt, padding="max_length", max_length=model_max_length,
    /// truncation=True).input_ids</c>.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="prompt"/> is null.</exception>
    public int[] EncodePadded(string prompt) => Pad(Encode(prompt));

    /// <inheritdoc/>
    /// <remarks>
    /// When a prompt is longer than <see cref="ModelMaxLength"/>, one warning is logged, worded as diffusers'
    /// <c>encode_prompt</c> words it and listing, per prompt, the decoded ids that were cut
    /// (<c>untruncated_ids[:, model_max_length - 1 : -1]</c> of the batch padded to its longest prompt).
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="prompts"/> is null.</exception>
    /// <exception cref="ArgumentException">One of the prompts is null.</exception>
    public int[][] EncodeBatchPadded(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var full = new int[prompts.Count][];
        for (int i = 0; i < prompts.Count; i++)
        {
            full[i] = Encode(prompts[i] ?? throw new ArgumentException($"Prompt {i} is null.", nameof(prompts)));
        }
        int longest = full.Length == 0 ? 0 : full.Max(r => r.Length);
        if (longest > ModelMaxLength)
        {
            var removed = new List<string>(full.Length);
            foreach (int[] row in full)
            {
                int[] padded = new int[longest];
                Array.Fill(padded, PadTokenId);
                row.CopyTo(padded, 0);
                removed.Add(Decode(padded.AsSpan(ModelMaxLength - 1, longest - ModelMaxLength), skipSpecialTokens: false));
            }
            ILogger logger = _logger ?? DiffusionLogging.CreateLogger<ClipTokenizer>();
            logger.LogWarning(
                "The following part of your input was truncated because CLIP can only handle sequences up to {ModelMaxLength} tokens: {RemovedText}",
                ModelMaxLength, PythonRepr.List(removed));
        }
        return full.Select(Pad).ToArray();
    }

    /// <inheritdoc/>
    /// <remarks>
    /// transformers' slow decode: ids to tokens, bytes back from the byte-level alphabet, UTF-8 decoding with the
    /// configured error handling, <c>&lt;/w&gt;</c> to a space, stripping, then (when tokenizer_config.json does not
    /// turn it off) <c>clean_up_tokenization</c>'s removal of spaces before punctuation and contractions.
    /// </remarks>
    /// <exception cref="ArgumentException">An id is neither in the vocabulary nor an added token.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
    {
        var parts = new List<string>();
        var current = new List<string>();
        foreach (int id in ids)
        {
            string token;
            if (_addedById.TryGetValue(id, out AddedToken? added))
            {
                if (skipSpecialTokens && added.Special)
                {
                    continue;
                }
                if (!added.Special)
                {
                    if (current.Count > 0)
                    {
                        string text = TokensToString(current);
                        if (text.Length > 0)
                        {
                            parts.Add(text);
                        }
                        current.Clear();
                    }
                    parts.Add(added.Content);
                    continue;
                }
                token = added.Content;
            }
            else if (!_vocabById.TryGetValue(id, out token!))
            {
                throw new ArgumentException($"Token id {id} is neither in the vocabulary nor an added token.", nameof(ids));
            }
            current.Add(token);
        }
        if (current.Count > 0)
        {
            parts.Add(TokensToString(current));
        }
        string result = string.Join(' ', parts);
        return _cleanUpTokenizationSpaces ? CleanUpTokenization(result) : result;
    }

    /// <inheritdoc/>
    public string? IdToToken(int id) =>
        _addedById.TryGetValue(id, out AddedToken? added) ? added.Content : _vocabById.GetValueOrDefault(id);

    private void Run(string text, List<string>? tokens, List<int>? ids)
    {
        PromptLimits.Check(text, "prompt");
        foreach (string piece in _addedTokens.Split(text))
        {
            if (_addedTokens.TryGet(piece, out AddedToken added))
            {
                tokens?.Add(added.Content);
                ids?.Add(added.Id);
                continue;
            }
            IReadOnlyList<EncodedToken> encoded = _bpe.EncodeToTokens(piece, out _);
            foreach (EncodedToken token in encoded)
            {
                tokens?.Add(token.Value);
                ids?.Add(_addedTokens.TryGet(token.Value, out AddedToken byContent) ? byContent.Id : token.Id);
            }
        }
    }

    private int[] Pad(int[] full)
    {
        int[] row = new int[ModelMaxLength];
        if (full.Length > ModelMaxLength)
        {
            // Truncation removes content from the right and keeps the end token last.
            Array.Copy(full, row, ModelMaxLength - 1);
            row[ModelMaxLength - 1] = full[^1];
            return row;
        }
        full.CopyTo(row, 0);
        Array.Fill(row, PadTokenId, full.Length, ModelMaxLength - full.Length);
        return row;
    }

    private string TokensToString(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string token in tokens)
        {
            foreach (char c in token)
            {
                if (ByteLevelAlphabet.TryGetByte(c, out byte b))
                {
                    bytes.Add(b);
                }
                else
                {
                    bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
                }
            }
        }
        string text = _utf8.GetString(bytes.ToArray());
        return PythonText.Strip(text.Replace(EndOfWordSuffix, " ", StringComparison.Ordinal));
    }

    // transformers' PreTrainedTokenizerBase.clean_up_tokenization.
    private static string CleanUpTokenization(string text) =>
        text.Replace(" .", ".", StringComparison.Ordinal)
            .Replace(" ?", "?", StringComparison.Ordinal)
            .Replace(" !", "!", StringComparison.Ordinal)
            .Replace(" ,", ",", StringComparison.Ordinal)
            .Replace(" ' ", "'", StringComparison.Ordinal)
            .Replace(" n't", "n't", StringComparison.Ordinal)
            .Replace(" 'm", "'m", StringComparison.Ordinal)
            .Replace(" 's", "'s", StringComparison.Ordinal)
            .Replace(" 've", "'ve", StringComparison.Ordinal)
            .Replace(" 're", "'re", StringComparison.Ordinal);

    private int TokenToId(string token) =>
        _addedTokens.TryGet(token, out AddedToken added) ? added.Id
        : _vocab.TryGetValue(token, out int id) ? id
        : UnkTokenId;

    private static int LookUp(ClipTokenizerFiles files, string token)
    {
        foreach (AddedToken added in files.AddedTokens)
        {
            if (added.Content == token)
            {
                return added.Id;
            }
        }
        if (files.Vocabulary.TryGetValue(token, out int id))
        {
            return id;
        }
        return files.Vocabulary.TryGetValue(files.UnkToken, out int unk) ? unk : 0;
    }
}
