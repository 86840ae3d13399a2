using Microsoft.Extensions.Logging;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Tests.Tokenization;

public sealed class ClipTokenizerTests
{
    private static readonly Lazy<ClipTokenizer> s_plain = new(() => ClipTokenizer.FromPretrained(TestPaths.ClipTokenizerSd2));
    private static readonly Lazy<ClipTokenizer> s_ftfy = new(() => ClipTokenizer.FromPretrained(TestPaths.ClipTokenizerSd2, new ClipTokenizerOptions { UseFtfy = true }));

    private static ClipTokenizer Plain => s_plain.Value;

    private static ClipTokenizer Ftfy => s_ftfy.Value;

    // --- loading -------------------------------------------------------------------------------------------------

    [Fact]
    public void Hub_files_with_AddedToken_dicts_give_the_sd2_special_ids_and_max_length()
    {
        Assert.Equal(49406, Plain.BosTokenId);
        Assert.Equal(49407, Plain.EosTokenId);
        Assert.Equal(49407, Plain.UnkTokenId);
        Assert.Equal(0, Plain.PadTokenId);
        Assert.Equal(77, Plain.ModelMaxLength);
        Assert.Equal(49408, Plain.VocabSize);
        Assert.False(Plain.UsesFtfy);
        Assert.True(Ftfy.UsesFtfy);
    }

    [Fact]
    public void Plain_string_tokens_with_added_tokens_decoder_load_the_same_as_AddedToken_dicts()
    {
        // samples/models/tiny-sd2/tokenizer: tokenizer_config.json with plain strings and added_tokens_decoder.
        ClipTokenizer tiny = ClipTokenizer.FromPretrained(Path.Combine(TestPaths.TinyModel, "tokenizer"));
        Assert.Equal((49406, 49407, 0, 49407, 77), (tiny.BosTokenId, tiny.EosTokenId, tiny.PadTokenId, tiny.UnkTokenId, tiny.ModelMaxLength));
        foreach (ReferenceCase c in TokenizerReference.Instance.Cases)
        {
            Assert.Equal(c.ByFtfy[false].Padded, tiny.EncodePadded(c.Prompt));
        }
    }

    [Fact]
    public void Pad_token_of_special_tokens_map_wins_over_tokenizer_config()
    {
        using var folder = new TokenizerFolder();
        // tokenizer_config.json says pad = <|endoftext|>; special_tokens_map.json says "!".
        Assert.Equal(0, ClipTokenizer.FromPretrained(folder.Path).PadTokenId);

        folder.Delete("special_tokens_map.json");
        ClipTokenizer withoutMap = ClipTokenizer.FromPretrained(folder.Path);
        Assert.Equal(49407, withoutMap.PadTokenId);
        // Without the map "!" is no longer an added token: it goes through BPE ("!</w>" = 256).
        Assert.Equal([49406, 2781, 256, 49407], withoutMap.Encode("wow!"));
        Assert.Equal(49407, withoutMap.EncodePadded("a")[^1]);
    }

    [Fact]
    public void Special_tokens_map_is_ignored_when_tokenizer_config_has_added_tokens_decoder()
    {
        using var folder = new TokenizerFolder();
        File.Copy(Path.Combine(TestPaths.TinyModel, "tokenizer", "tokenizer_config.json"), folder.File_("tokenizer_config.json"), overwrite: true);
        // transformers only reads special_tokens_map.json for configs without added_tokens_decoder.
        folder.Write("special_tokens_map.json", "{\"pad_token\": \"<|endoftext|>\"}");
        Assert.Equal(0, ClipTokenizer.FromPretrained(folder.Path).PadTokenId);
        folder.Write("special_tokens_map.json", "not json");
        Assert.Equal(0, ClipTokenizer.FromPretrained(folder.Path).PadTokenId);
    }

    [Theory]
    [InlineData(false, new[] { 49406, 320, 49408, 321, 49407 })]
    [InlineData(true, new[] { 49406, 320, 283, 2368, 285, 321, 49407 })]
    public void Added_tokens_decoder_entries_split_the_prompt_and_single_word_keeps_them_inside_words(bool singleWord, int[] expected)
    {
        using var folder = new TokenizerFolder();
        string config = File.ReadAllText(Path.Combine(TestPaths.TinyModel, "tokenizer", "tokenizer_config.json")).Replace(
            "\"added_tokens_decoder\": {",
            "\"added_tokens_decoder\": { \"49408\": {\"content\": \"<cat>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, "
            + $"\"single_word\": {(singleWord ? "true" : "false")}, \"special\": false}},",
            StringComparison.Ordinal);
        folder.Write("tokenizer_config.json", config);
        ClipTokenizer tokenizer = ClipTokenizer.FromPretrained(folder.Path);
        Assert.Equal(expected, tokenizer.Encode("a<cat>b"));
        Assert.Equal([49406, 320, 49408, 321, 49407], tokenizer.Encode("a <cat> b"));
        Assert.Equal("a <cat> b", tokenizer.Decode([49406, 320, 49408, 321, 49407]));
    }

    [Fact]
    public void Model_max_length_comes_from_tokenizer_config()
    {
        using var folder = new TokenizerFolder();
        folder.Write("tokenizer_config.json", File.ReadAllText(folder.File_("tokenizer_config.json")).Replace("\"model_max_length\": 77", "\"model_max_length\": 8", StringComparison.Ordinal));
        ClipTokenizer tokenizer = ClipTokenizer.FromPretrained(folder.Path);
        Assert.Equal(8, tokenizer.ModelMaxLength);
        Assert.Equal([49406, 320, 2368, 49407, 0, 0, 0, 0], tokenizer.EncodePadded("a cat"));
        Assert.Equal([49406, 320, 320, 320, 320, 320, 320, 49407], tokenizer.EncodePadded("a a a a a a a a a a"));
    }

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("merges.txt")]
    [InlineData("tokenizer_config.json")]
    public void Missing_required_file_throws_ModelLoadException_naming_the_file(string file)
    {
        using var folder = new TokenizerFolder();
        folder.Delete(file);
        var ex = Assert.Throws<ModelLoadException>(() => ClipTokenizer.FromPretrained(folder.Path));
        Assert.Equal(file, Path.GetFileName(ex.FilePath));
        Assert.Contains("not found", ex.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vocab.json", "{ \"a\": 1,")]
    [InlineData("tokenizer_config.json", "[1, 2")]
    [InlineData("special_tokens_map.json", "{ nope }")]
    public void Broken_json_throws_ModelLoadException_naming_the_file(string file, string content)
    {
        using var folder = new TokenizerFolder();
        folder.Write(file, content);
        var ex = Assert.Throws<ModelLoadException>(() => ClipTokenizer.FromPretrained(folder.Path));
        Assert.Equal(file, Path.GetFileName(ex.FilePath));
    }

    [Fact]
    public void Missing_model_max_length_throws_ModelLoadException()
    {
        using var folder = new TokenizerFolder();
        folder.Write("tokenizer_config.json", "{\"bos_token\": \"<|startoftext|>\"}");
        var ex = Assert.Throws<ModelLoadException>(() => ClipTokenizer.FromPretrained(folder.Path));
        Assert.Contains("model_max_length", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Merges_that_do_not_fit_the_vocabulary_throw_ModelLoadException()
    {
        using var folder = new TokenizerFolder();
        folder.Write("merges.txt", "#version: 0.2\nq zz\n");
        var ex = Assert.Throws<ModelLoadException>(() => ClipTokenizer.FromPretrained(folder.Path));
        Assert.Equal("merges.txt", Path.GetFileName(ex.FilePath));
    }

    [Fact]
    public void Missing_folder_throws_ModelLoadException_and_bad_arguments_throw_ArgumentException()
    {
        Assert.Throws<ModelLoadException>(() => ClipTokenizer.FromPretrained(Path.Combine(Path.GetTempPath(), "no-such-tokenizer-" + Guid.NewGuid())));
        Assert.Equal("tokenizerDirectory", Assert.ThrowsAny<ArgumentException>(() => ClipTokenizer.FromPretrained(null!)).ParamName);
        Assert.Equal("tokenizerDirectory", Assert.ThrowsAny<ArgumentException>(() => ClipTokenizer.FromPretrained(" ")).ParamName);
        Assert.Equal("prompt", Assert.Throws<ArgumentNullException>(() => Plain.Encode(null!)).ParamName);
        Assert.Equal("prompt", Assert.Throws<ArgumentNullException>(() => Plain.EncodePadded(null!)).ParamName);
        Assert.Equal("text", Assert.Throws<ArgumentNullException>(() => Plain.Tokenize(null!)).ParamName);
        Assert.Equal("prompts", Assert.Throws<ArgumentNullException>(() => Plain.EncodeBatchPadded(null!)).ParamName);
        Assert.Equal("prompts", Assert.Throws<ArgumentException>(() => Plain.EncodeBatchPadded(["a", null!])).ParamName);
    }

    // --- encoding ------------------------------------------------------------------------------------------------

    [Fact]
    public void Empty_prompt_is_start_end_then_pad_zeros()
    {
        int[] expected = new int[77];
        expected[0] = 49406;
        expected[1] = 49407;
        Assert.Equal(expected, Plain.EncodePadded(""));
        Assert.Equal(expected, Ftfy.EncodePadded(""));
        Assert.Equal([49406, 49407], Plain.Encode(""));
        Assert.Empty(Plain.Tokenize(""));
    }

    [Fact]
    public void Every_exclamation_mark_is_the_pad_token_id_0_not_bpe()
    {
        Assert.Equal([49406, 2781, 0, 49407], Plain.Encode("wow!"));
        Assert.Equal(["wow</w>", "!"], Plain.Tokenize("wow!"));
        Assert.Equal([49406, 0, 0, 0, 0, 0, 0, 49407], Plain.Encode("! !! !!!"));
        Assert.DoesNotContain(256, Plain.Encode("hello!world and hello ! world"));
        Assert.DoesNotContain(1443, Ftfy.Encode("CAT!!")); // "!!" would be BPE id 1443
    }

    [Fact]
    public void Truncation_keeps_start_and_end_tokens_and_75_content_ids()
    {
        string prompt = string.Join(' ', Enumerable.Repeat("word", 100));
        int[] full = Plain.Encode(prompt);
        Assert.Equal(102, full.Length);
        int[] padded = Plain.EncodePadded(prompt);
        Assert.Equal(77, padded.Length);
        Assert.Equal(49406, padded[0]);
        Assert.Equal(49407, padded[76]);
        Assert.Equal(full[..76], padded[..76]);
    }

    [Fact]
    public void Special_token_text_in_a_prompt_maps_to_its_id()
    {
        Assert.Equal([49406, 49406, 320, 2368, 49407, 49407], Plain.Encode("<|startoftext|>a cat<|endoftext|>"));
        // Upper case is not an added token, but lower-casing turns it into CLIP's pattern literal.
        Assert.Equal([49406, 49407, 49407], Plain.Encode("<|ENDOFTEXT|>"));
    }

    [Fact]
    public void Lower_casing_follows_python_including_final_sigma_and_dotted_capital_i()
    {
        Assert.Equal("οδος σα", Plain.Decode(Plain.Encode("ΟΔΟΣ ΣΑ")));
        Assert.Equal(["i</w>", "Ìĩ</w>", "stanbul</w>"], Plain.Tokenize("İstanbul"));
    }

    [Fact]
    public void Characters_unassigned_in_python_3_11_are_dropped_without_ftfy_and_kept_with_it()
    {
        // U+1FAE8 SHAKING FACE is Unicode 15: category Cn for Python 3.11, so BasicTokenizer removes it.
        Assert.Equal([49406, 49407], Plain.Encode("\U0001FAE8"));
        Assert.Equal([49406, 558, 104, 357, 49407], Ftfy.Encode("\U0001FAE8"));
    }

    [Fact]
    public void Lone_surrogates_are_removed_without_ftfy_and_become_replacement_characters_with_it()
    {
        Assert.Equal([49406, 3937, 49407], Plain.Encode("a\uD800b"));
        Assert.Equal([49406, 320, 39802, 321, 49407], Ftfy.Encode("a\uD800b"));
    }

    [Fact]
    public void Ftfy_variant_fixes_entities_ligatures_and_mojibake_that_the_default_variant_keeps()
    {
        Assert.Equal([49406, 261, 6259, 282, 171, 105, 479, 127, 352, 5811, 49407], Plain.Encode("&amp; ﬁ Ã©"));
        Assert.Equal([49406, 261, 3589, 4166, 49407], Ftfy.Encode("&amp; ﬁ Ã©"));
    }

    [Fact]
    public void Concurrent_encoding_gives_the_same_ids_as_sequential_encoding()
    {
        var prompts = TokenizerReference.Instance.Cases.Select(c => c.Prompt).ToArray();
        foreach (ClipTokenizer tokenizer in new[] { ClipTokenizer.FromPretrained(TestPaths.ClipTokenizerSd2), ClipTokenizer.FromPretrained(TestPaths.ClipTokenizerSd2, new ClipTokenizerOptions { UseFtfy = true }) })
        {
            int[][] sequential = prompts.Select(p => (int[])tokenizer.EncodePadded(p).Clone()).ToArray();
            var parallel = new int[prompts.Length * 4][];
            Parallel.For(0, parallel.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => parallel[i] = tokenizer.EncodePadded(prompts[i % prompts.Length]));
            for (int i = 0; i < parallel.Length; i++)
            {
                Assert.Equal(sequential[i % prompts.Length], parallel[i]);
            }
        }
    }

    // --- batch and truncation warning -----------------------------------------------------------------------

    [Fact]
    public void Batch_encoding_pads_every_prompt_and_warns_with_the_removed_text_like_diffusers()
    {
        var logger = new CollectingLogger();
        ClipTokenizer tokenizer = ClipTokenizer.FromPretrained(TestPaths.ClipTokenizerSd2, new ClipTokenizerOptions { Logger = logger });
        string longPrompt = string.Join(' ', Enumerable.Range(0, 80).Select(i => i % 2 == 0 ? "red" : "cat")) + " and a dog, barking";
        int[][] rows = tokenizer.EncodeBatchPadded([longPrompt, "a cat"]);

        Assert.Equal(tokenizer.EncodePadded(longPrompt), rows[0]);
        Assert.Equal(tokenizer.EncodePadded("a cat"), rows[1]);
        var warning = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        // 80 words + "and a dog , barking" = 85 content ids; ids 75..84 were cut. The short prompt's row of the
        // longest-padded batch holds pad ids there, which decode to "!" (diffusers logs the same).
        Assert.Equal(
            "The following part of your input was truncated because CLIP can only handle sequences up to 77 tokens: "
            + "['cat red cat red cat and a dog, barking', '!!!!!!!!!!']",
            warning.Message);
    }

    [Fact]
    public void Batch_encoding_does_not_warn_when_every_prompt_fits()
    {
        var logger = new CollectingLogger();
        ClipTokenizer tokenizer = ClipTokenizer.FromPretrained(TestPaths.ClipTokenizerSd2, new ClipTokenizerOptions { Logger = logger });
        string exactlyFits = string.Join(' ', Enumerable.Repeat("cat", 75));
        Assert.Equal(77, tokenizer.Encode(exactlyFits).Length);
        int[][] rows = tokenizer.EncodeBatchPadded([exactlyFits, "", "a photo"]);
        Assert.Equal(3, rows.Length);
        Assert.All(rows, r => Assert.Equal(77, r.Length));
        Assert.Empty(logger.Entries);
    }

    // --- decoding ------------------------------------------------------------------------------------------------

    [Fact]
    public void Decode_round_trips_lower_cased_text_and_cleans_spaces_before_punctuation()
    {
        int[] ids = Plain.EncodePadded("A photo of a Cat, on a table.");
        Assert.Equal("a photo of a cat, on a table.", Plain.Decode(ids));
        Assert.Equal("café 😀 猫 naïve", Plain.Decode(Plain.Encode("Café 😀 猫 naïve")));
    }

    [Fact]
    public void Decode_without_skipping_special_tokens_shows_start_end_and_pad_tokens()
    {
        Assert.Equal("<|startoftext|>a cat <|endoftext|>!!!", Plain.Decode(Plain.EncodePadded("a cat").AsSpan(0, 7), skipSpecialTokens: false));
    }

    [Fact]
    public void Decode_of_an_unknown_id_throws_ArgumentException()
    {
        Assert.Equal("ids", Assert.Throws<ArgumentException>(() => Plain.Decode([49406, 123456])).ParamName);
    }

    [Fact]
    public void Clip_tokenizer_is_usable_through_the_pipeline_interface()
    {
        IPromptTokenizer tokenizer = Plain;
        Assert.Equal(77, tokenizer.ModelMaxLength);
        Assert.Equal(Plain.EncodePadded("a red cube"), tokenizer.EncodePadded("a red cube"));
        Assert.Equal("a red cube", tokenizer.Decode(tokenizer.Encode("a red cube")));
    }
}
