using System.Text;
using System.Text.Json;
using Spright.Diffusion.Configuration;
using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization;

/// <summary>
/// The contents of a hub <c>tokenizer/</c> folder (vocab.json, merges.txt, tokenizer_config.json,
/// special_tokens_map.json) resolved the way transformers' <c>CLIPTokenizer.from_pretrained</c> resolves them.
/// </summary>
internal sealed class ClipTokenizerFiles
{
    /// <summary>The vocabulary file name.</summary>
    public const string VocabFile = "vocab.json";

    /// <summary>The merges file name.</summary>
    public const string MergesFile = "merges.txt";

    /// <summary>The tokenizer configuration file name.</summary>
    public const string ConfigFile = "tokenizer_config.json";

    /// <summary>The special-token map file name.</summary>
    public const string SpecialTokensFile = "special_tokens_map.json";

    /// <summary>The legacy added-token file name (token to id).</summary>
    public const string AddedTokensFile = "added_tokens.json";

    /// <summary>Largest vocab.json / merges.txt accepted (the CLIP files are about 1 MB and 0.5 MB).</summary>
    public const long MaxVocabularyBytes = 64L << 20;

    /// <summary>The longest padded sequence accepted as <c>model_max_length</c>.</summary>
    public const int MaxModelMaxLength = 1 << 16;

    /// <summary>Largest tokenizer_config.json / special_tokens_map.json accepted.</summary>
    public const long MaxConfigBytes = 4L << 20;

    // transformers' CLIPTokenizer keeps only the first 49152 - 256 - 2 merges of merges.txt (the OpenAI BPE size);
    // a longer file is truncated the same way.
    private const int TransformersMergeLimit = 49152 - 256 - 2;

    // CLIPTokenizer.__init__ defaults, used when neither JSON file names a token.
    private const string DefaultBos = "<|startoftext|>";
    private const string DefaultEos = "<|endoftext|>";
    private const string DefaultUnk = "<|endoftext|>";
    private const string DefaultPad = "<|endoftext|>";

    private static readonly string[] s_specialKeys = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    private ClipTokenizerFiles()
    {
    }

    public required Dictionary<string, int> Vocabulary { get; init; }

    /// <summary>Merges as "first second", in rank order.</summary>
    public required List<string> Merges { get; init; }

    public required IReadOnlyList<AddedToken> AddedTokens { get; init; }

    public required string BosToken { get; init; }

    public required string EosToken { get; init; }

    public required string UnkToken { get; init; }

    public required string PadToken { get; init; }

    public required int ModelMaxLength { get; init; }

    public required bool CleanUpTokenizationSpaces { get; init; }

    public required string DecodeErrors { get; init; }

    /// <summary>Reads and resolves the folder, throwing <see cref="ModelLoadException"/> for anything unusable.</summary>
    public static ClipTokenizerFiles Load(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new ModelLoadException(directory, "tokenizer folder not found");
        }
        string vocabPath = Path.Combine(directory, VocabFile);
        string mergesPath = Path.Combine(directory, MergesFile);
        string configPath = Path.Combine(directory, ConfigFile);
        string specialPath = Path.Combine(directory, SpecialTokensFile);

        Dictionary<string, int> vocab = ReadVocabulary(vocabPath);
        List<string> merges = ReadMerges(mergesPath);

        Dictionary<string, JsonElement> config = ReadObject(configPath, required: true)!;
        // transformers' _from_pretrained: a tokenizer_config.json with added_tokens_decoder (transformers >= 4.34) is
        // complete; otherwise (the legacy layout of the SD 2.x hub files) special_tokens_map.json overrides its
        // special tokens, and added_tokens.json lists extra added tokens.
        bool hasDecoder = config.TryGetValue("added_tokens_decoder", out JsonElement decoder) && decoder.ValueKind == JsonValueKind.Object;
        Dictionary<string, JsonElement>? specialMap = hasDecoder ? null : ReadObject(specialPath, required: false);

        var specials = new Dictionary<string, TokenSpec>(StringComparer.Ordinal);
        var additional = new List<TokenSpec>();
        foreach ((string path, Dictionary<string, JsonElement>? source) in new[] { (configPath, config), (specialPath, specialMap) })
        {
            if (source is null)
            {
                continue;
            }
            foreach (string key in s_specialKeys)
            {
                if (source.TryGetValue(key, out JsonElement value) && value.ValueKind != JsonValueKind.Null)
                {
                    specials[key] = ParseTokenSpec(value, path, key);
                }
            }
            if (source.TryGetValue("additional_special_tokens", out JsonElement extra) && extra.ValueKind == JsonValueKind.Array)
            {
                additional.Clear();
                foreach (JsonElement item in extra.EnumerateArray())
                {
                    additional.Add(ParseTokenSpec(item, path, "additional_special_tokens"));
                }
            }
        }
        TokenSpec bos = specials.GetValueOrDefault("bos_token") ?? new TokenSpec(DefaultBos, false, false, false);
        TokenSpec eos = specials.GetValueOrDefault("eos_token") ?? new TokenSpec(DefaultEos, false, false, false);
        TokenSpec unk = specials.GetValueOrDefault("unk_token") ?? new TokenSpec(DefaultUnk, false, false, false);
        TokenSpec pad = specials.GetValueOrDefault("pad_token") ?? new TokenSpec(DefaultPad, false, false, false);

        // Added tokens: added_tokens_decoder first, then every special token not already added (its vocab id, or a
        // new id after the vocabulary), as PreTrainedTokenizer.__init__ does.
        var added = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        if (hasDecoder)
        {
            foreach (JsonProperty entry in decoder.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int id) || id < 0)
                {
                    throw new ModelLoadException(configPath, $"added_tokens_decoder key '{entry.Name}' is not a token id");
                }
                TokenSpec spec = ParseTokenSpec(entry.Value, configPath, "added_tokens_decoder");
                added[spec.Content] = new AddedToken(spec.Content, id, spec.LStrip, spec.RStrip, spec.SingleWord, Special: false);
            }
        }
        else
        {
            ReadLegacyAddedTokens(Path.Combine(directory, AddedTokensFile), specials.Values.Concat(additional).Select(t => t.Content).ToHashSet(StringComparer.Ordinal), added);
        }
        int nextId = vocab.Count + added.Keys.Count(k => !vocab.ContainsKey(k));
        var specialOrder = new List<TokenSpec>();
        foreach (string key in s_specialKeys)
        {
            TokenSpec? spec = key switch
            {
                "bos_token" => bos,
                "eos_token" => eos,
                "unk_token" => unk,
                "pad_token" => pad,
                _ => specials.GetValueOrDefault(key),
            };
            if (spec is not null)
            {
                specialOrder.Add(spec);
            }
        }
        specialOrder.AddRange(additional);
        foreach (TokenSpec spec in specialOrder)
        {
            if (spec.Content.Length == 0 || added.ContainsKey(spec.Content))
            {
                continue;
            }
            int id = vocab.TryGetValue(spec.Content, out int vocabId) ? vocabId : nextId++;
            added[spec.Content] = new AddedToken(spec.Content, id, spec.LStrip, spec.RStrip, spec.SingleWord, Special: true);
        }
        // "Special" for decoding means one of the special-token attributes (all_special_ids), whatever the flag.
        var specialContents = specialOrder.Select(t => t.Content).ToHashSet(StringComparer.Ordinal);
        foreach (string content in added.Keys.ToList())
        {
            added[content] = added[content] with { Special = specialContents.Contains(content) };
        }

        int maxLength = ReadModelMaxLength(config, configPath);
        bool cleanUp = !config.TryGetValue("clean_up_tokenization_spaces", out JsonElement cu) || cu.ValueKind != JsonValueKind.False;
        string errors = config.TryGetValue("errors", out JsonElement err) && err.ValueKind == JsonValueKind.String ? err.GetString()! : "replace";
        if (errors is not ("replace" or "strict" or "ignore"))
        {
            throw new ModelLoadException(configPath, $"errors '{errors}' is not supported (use replace, strict or ignore)");
        }

        return new ClipTokenizerFiles
        {
            Vocabulary = vocab,
            Merges = merges,
            AddedTokens = added.Values.ToList(),
            BosToken = bos.Content,
            EosToken = eos.Content,
            UnkToken = unk.Content,
            PadToken = pad.Content,
            ModelMaxLength = maxLength,
            CleanUpTokenizationSpaces = cleanUp,
            DecodeErrors = errors,
        };
    }

    private static void ReadLegacyAddedTokens(string path, HashSet<string> specialContents, Dictionary<string, AddedToken> added)
    {
        Dictionary<string, JsonElement>? tokens = ReadObject(path, required: false);
        if (tokens is null)
        {
            return;
        }
        foreach ((string content, JsonElement value) in tokens)
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int id) || id < 0)
            {
                throw new ModelLoadException(path, $"token '{content}' has no non-negative integer id");
            }
            added[content] = new AddedToken(content, id, false, false, false, specialContents.Contains(content));
        }
    }

    private static int ReadModelMaxLength(Dictionary<string, JsonElement> config, string configPath)
    {
        if (!config.TryGetValue("model_max_length", out JsonElement value) || value.ValueKind != JsonValueKind.Number)
        {
            throw new ModelLoadException(configPath, "model_max_length is missing or not a number");
        }
        if (!value.TryGetInt32(out int maxLength))
        {
            if (value.TryGetDouble(out double d) && d == Math.Floor(d) && d >= 2 && d <= int.MaxValue)
            {
                maxLength = (int)d;
            }
            else
            {
                throw new ModelLoadException(configPath, $"model_max_length {value.GetRawText()} is not a usable sequence length");
            }
        }
        if (maxLength < 2)
        {
            throw new ModelLoadException(configPath, $"model_max_length {maxLength} leaves no room for the start and end tokens");
        }
        if (maxLength > MaxModelMaxLength)
        {
            // Every id row is padded to this length: an absurd value would allocate gigabytes per prompt.
            throw new ModelLoadException(configPath, $"model_max_length {maxLength} is more than the {MaxModelMaxLength} tokens supported (CLIP uses 77)");
        }
        return maxLength;
    }

    private static Dictionary<string, int> ReadVocabulary(string path)
    {
        string json = ReadText(path, MaxVocabularyBytes);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException(path, "is not a JSON object of token to id");
            }
            var vocab = new Dictionary<string, int>(doc.RootElement.GetPropertyCount(), StringComparer.Ordinal);
            foreach (JsonProperty entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                {
                    throw new ModelLoadException(path, $"token '{entry.Name}' has no non-negative integer id");
                }
                vocab[entry.Name] = id;
            }
            if (vocab.Count == 0)
            {
                throw new ModelLoadException(path, "the vocabulary is empty");
            }
            return vocab;
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, $"is not valid JSON: {ex.Message}", ex);
        }
    }

    private static List<string> ReadMerges(string path)
    {
        string text = ReadText(path, MaxVocabularyBytes);
        // transformers: read().strip().split("\n")[1 : 49152 - 256 - 2 + 1]; each line split on whitespace; a
        // repeated pair keeps its last rank.
        string[] lines = PythonText.Strip(text).Split('\n');
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
        int end = Math.Min(lines.Length, TransformersMergeLimit + 1);
        for (int i = 1; i < end; i++)
        {
            List<string> parts = PythonText.SplitWhitespace(lines[i]);
            if (parts.Count == 2)
            {
                ranks[parts[0] + " " + parts[1]] = i;
            }
        }
        if (ranks.Count == 0)
        {
            throw new ModelLoadException(path, "contains no merges (expected a '#version' line followed by 'first second' lines)");
        }
        return ranks.OrderBy(kv => kv.Value).Select(kv => kv.Key).ToList();
    }

    private static Dictionary<string, JsonElement>? ReadObject(string path, bool required)
    {
        if (!required && !File.Exists(path))
        {
            return null;
        }
        string json = ReadText(path, MaxConfigBytes);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException(path, "is not a JSON object");
            }
            var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                result[p.Name] = p.Value.Clone();
            }
            return result;
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, $"is not valid JSON: {ex.Message}", ex);
        }
    }

    private static string ReadText(string path, long maxBytes)
    {
        string text = ModelFiles.ReadJsonText(path, maxBytes);
        return text.Length > 0 && text[0] == '\uFEFF' ? text.Substring(1) : text;
    }

    // A token given as a plain string or as an AddedToken object ({"content": ..., "lstrip": ..., "__type": ...}).
    private static TokenSpec ParseTokenSpec(JsonElement value, string path, string key)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return new TokenSpec(value.GetString()!, false, false, false);
            case JsonValueKind.Object:
                if (!value.TryGetProperty("content", out JsonElement content) || content.ValueKind != JsonValueKind.String)
                {
                    throw new ModelLoadException(path, $"{key} has no string 'content'");
                }
                return new TokenSpec(content.GetString()!, Flag(value, "lstrip"), Flag(value, "rstrip"), Flag(value, "single_word"));
            default:
                throw new ModelLoadException(path, $"{key} is neither a string nor an AddedToken object");
        }
    }

    private static bool Flag(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.True;

    private sealed record TokenSpec(string Content, bool LStrip, bool RStrip, bool SingleWord);
}
