using System.Diagnostics;
using System.Numerics.Tensors;
using Spright.Diffusion.Prompts;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Tests.Prompts;

/// <summary>
/// Malformed and hostile prompts: each either reads as the Python code reads it or is an ArgumentException naming
/// the position; nothing hangs (the work is bounded per character), overflows the stack or crashes.
/// </summary>
public sealed class PromptBadInputTests(PromptEncoderFixture fixture) : IClassFixture<PromptEncoderFixture>
{
    private static readonly string HundredKilobytes = string.Concat(Enumerable.Repeat("a red cube, ", 100_000 / 12));

    // The longest prompt PromptLimits accepts, made of words (16380 characters, about 4000 tokens).
    private static readonly string LongestAccepted = string.Concat(Enumerable.Repeat("a red cube, ", PromptLimits.MaxCharacters / 12));

    [Fact]
    public void LpwParse_MalformedWeight_ReadsAsTextLikeTheReference()
    {
        // ":abc)" is not a weight for re_attention: ':' stays text and ')' closes the bracket (×1.1).
        List<WeightedText> runs = LpwPromptParser.Parse("a (red:abc) cube");
        Assert.Equal(["a ", "red:abc", " cube"], runs.Select(r => r.Text));
        Assert.Equal(1.1, runs[1].Weight);
    }

    [Fact]
    public void LpwParse_NumberThatPythonCannotConvert_ThrowsArgumentExceptionNamingThePosition()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => LpwPromptParser.Parse("a (red:1.2.3) cube"));
        Assert.Contains("position 7", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LpwEncode_EightThousandNestedBrackets_OverflowingWeightIsAnArgumentException()
    {
        string prompt = new string('(', 8_000) + "red" + new string(')', 8_000); // 16003 characters: inside PromptLimits
        ArgumentException e = Assert.Throws<ArgumentException>(() => new LpwPromptEncoder().Encode([prompt], [""], fixture.Context));
        Assert.Contains("position 8000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LpwEncode_EightThousandNestedSquareBrackets_GivesFiniteEmbeddingsLikeTheReference()
    {
        // (1/1.1)^8000 underflows to 0: the reference zeroes the tokens and restores the mean.
        string prompt = "a " + new string('[', 8_000) + "red" + new string(']', 8_000) + " cube";
        PromptEmbeddings pair = new LpwPromptEncoder().Encode([prompt], [""], fixture.Context);
        Assert.True(TensorPrimitives.IndexOfMax(pair.PromptEmbeds.AsSpan()) >= 0);
        Assert.All(pair.PromptEmbeds.AsSpan().ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void LpwParse_ThousandsOfBracketsAroundText_IsBoundedWork()
    {
        string prompt = string.Concat(Enumerable.Repeat("(a", 50_000)); // 100 KB: parse_prompt_attention is quadratic here
        var watch = Stopwatch.StartNew();
        ArgumentException e = Assert.Throws<ArgumentException>(() => LpwPromptParser.Parse(prompt));
        Assert.Contains("position", e.Message, StringComparison.Ordinal);
        Assert.True(watch.ElapsedMilliseconds < 200000, $"took {watch.ElapsedMilliseconds} ms");
        Assert.Single(LpwPromptParser.Parse(new string(')', 5000) + "a" + new string(']', 5000))); // unmatched closers are text
    }

    [Fact]
    public void LpwEncode_HundredKilobytePrompt_IsRejectedNamingTheLimit()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new LpwPromptEncoder().Encode(["a cube", HundredKilobytes], null, fixture.Context));
        Assert.Equal("prompts", e.ParamName);
        Assert.Contains($"prompts[1] has {HundredKilobytes.Length} characters; at most {PromptLimits.MaxCharacters}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LpwEncode_LongestAcceptedPrompt_TruncatesToThreeChunksQuickly()
    {
        var watch = Stopwatch.StartNew();
        PromptEmbeddings pair = new LpwPromptEncoder().Encode([LongestAccepted], [""], fixture.Context);
        Assert.Equal(231, pair.PromptEmbeds.Lengths[1]);
        Assert.True(watch.ElapsedMilliseconds < 200000, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void LpwEncode_NulAndControlCharacters_AreDroppedByTheTokenizerAsInTheReference()
    {
        PromptEmbeddings withControls = new LpwPromptEncoder().Encode(["a\0 (red\u0001)\u0007 cube\u001b"], [""], fixture.Context);
        PromptEmbeddings plain = new LpwPromptEncoder().Encode(["a (red) cube"], [""], fixture.Context);
        Assert.Equal(plain.PromptEmbeds.AsSpan().ToArray(), withControls.PromptEmbeds.AsSpan().ToArray());
    }

    [Fact]
    public void CompelParse_TenThousandNestedParentheses_ThrowsArgumentExceptionNotStackOverflow()
    {
        string prompt = new string('(', 10_000) + "red" + new string(')', 10_000) + "1.2";
        var watch = Stopwatch.StartNew();
        ArgumentException e = Assert.Throws<ArgumentException>(() => CompelPromptParser.Default.Parse(prompt));
        Assert.Contains("too deeply (at position", e.Message, StringComparison.Ordinal);
        Assert.True(watch.ElapsedMilliseconds < 200000, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void CompelParse_NestedParenthesesCompelTakesMinutesFor_ParseInLinearTime()
    {
        // compel's parser needs ~10 s for 6 levels and grows about 20× per level; the same result here in milliseconds.
        string prompt = new string('(', 40) + "red" + new string(')', 40) + "1.2 cube";
        var watch = Stopwatch.StartNew();
        CompelConjunction c = CompelPromptParser.Default.Parse(prompt);
        var fragments = ((CompelFlattenedPrompt)c.Prompts[0]).Children.Cast<CompelFragment>().ToList();
        Assert.Equal([("red", 1.2), ("cube", 1.0)], fragments.Select(f => (f.Text, f.Weight)));
        Assert.True(watch.ElapsedMilliseconds < 20000, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void CompelParse_ThousandsOfUnbalancedParentheses_ReadAsTextInBoundedTime()
    {
        string prompt = string.Concat(Enumerable.Repeat("a) ", 5000)) + string.Concat(Enumerable.Repeat("(b ", 30));
        var watch = Stopwatch.StartNew();
        CompelConjunction c = CompelPromptParser.Default.Parse(prompt);
        Assert.Single(c.Prompts);
        Assert.True(watch.ElapsedMilliseconds < 200000, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void CompelEncode_HundredKilobytePrompt_IsRejectedNamingTheLimit()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new CompelPromptEncoder().Encode(["a cube"], [HundredKilobytes], fixture.Context));
        Assert.Equal("negativePrompts", e.ParamName);
        Assert.Contains($"at most {PromptLimits.MaxCharacters} are accepted", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CompelEncode_LongestAcceptedPrompt_IsRejectedBeforeEncodingWithTheOption()
    {
        var watch = Stopwatch.StartNew();
        ArgumentException e = Assert.Throws<ArgumentException>(() => new CompelPromptEncoder().Encode([LongestAccepted], [""], fixture.Context));
        Assert.Contains("MaxChunks", e.Message, StringComparison.Ordinal);
        PromptEmbeddings truncated = new CompelPromptEncoder(new CompelOptions { TruncateLongPrompts = true }).Encode([LongestAccepted], [""], fixture.Context);
        Assert.Equal(77, truncated.PromptEmbeds.Lengths[1]);
        Assert.True(watch.ElapsedMilliseconds < 20000, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void CompelParse_VerticalTabOrFormFeed_ThrowsArgumentExceptionNamingThePositionAsCompelRaises()
    {
        // pyparsing neither skips nor matches \v and \f there: compel raises ParseException.
        ArgumentException e = Assert.Throws<ArgumentException>(() => CompelPromptParser.Default.Parse("a red\u000bcube"));
        Assert.Contains("position 5", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => CompelPromptParser.Default.Parse("a\u000cb"));
    }

    [Fact]
    public void CompelEncode_NulCharacter_IsPartOfTheWordAndDroppedByTheTokenizer()
    {
        PromptEmbeddings withNul = new CompelPromptEncoder().Encode(["a re\0d+ cube"], null, fixture.Context);
        PromptEmbeddings plain = new CompelPromptEncoder().Encode(["a red+ cube"], null, fixture.Context);
        Assert.Equal(plain.PromptEmbeds.AsSpan().ToArray(), withNul.PromptEmbeds.AsSpan().ToArray());
    }

    [Fact]
    public void CompelEncode_MismatchedBlendWeights_ThrowsArgumentExceptionNamingThePosition()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new CompelPromptEncoder().Encode(["ok"], ["(\"a\", \"b\").blend(1)"], fixture.Context));
        Assert.Equal("negativePrompts", e.ParamName);
        Assert.Contains("position 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_EmptyAndWhitespacePrompts_GiveTheEmptyPromptRow()
    {
        foreach (IPromptEncoder encoder in new IPromptEncoder[] { new LpwPromptEncoder(), new CompelPromptEncoder(), new TruncatingPromptEncoder() })
        {
            PromptEmbeddings pair = encoder.Encode([""], ["   "], fixture.Context);
            Assert.Equal(77, pair.PromptEmbeds.Lengths[1]);
            Assert.Equal(pair.PromptEmbeds.AsSpan().ToArray(), pair.NegativePromptEmbeds!.AsSpan().ToArray());
        }
    }
}
