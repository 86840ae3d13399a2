using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Tests.Tokenization;

/// <summary>Every public reference prompt, in both clean-up variants: padded ids, full ids and tokens exactly as transformers gives them.</summary>
public sealed class ClipTokenizerReferenceParityTests
{
    private static readonly Lazy<ClipTokenizer> s_plain = new(() => ClipTokenizer.FromPretrained(TestPaths.ClipTokenizerSd2));
    private static readonly Lazy<ClipTokenizer> s_ftfy = new(() => ClipTokenizer.FromPretrained(TestPaths.ClipTokenizerSd2, new ClipTokenizerOptions { UseFtfy = true }));

    public static IEnumerable<object[]> Cases() => TokenizerReference.CaseIndices();

    [Fact]
    public void Reference_has_all_246_public_prompts()
    {
        Assert.Equal(246, TokenizerReference.Instance.Cases.Count);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void NoFtfy_padded_full_ids_and_tokens_match_transformers(int index) => AssertCase(index, useFtfy: false);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Ftfy_padded_full_ids_and_tokens_match_transformers(int index) => AssertCase(index, useFtfy: true);

    private static void AssertCase(int index, bool useFtfy)
    {
        ReferenceCase c = TokenizerReference.Instance.Cases[index];
        ReferenceExpectation expected = c.ByFtfy[useFtfy];
        ClipTokenizer tokenizer = useFtfy ? s_ftfy.Value : s_plain.Value;
        Assert.Equal(expected.Tokens, tokenizer.Tokenize(c.Prompt));
        Assert.Equal(expected.Full, tokenizer.Encode(c.Prompt));
        Assert.Equal(expected.Padded, tokenizer.EncodePadded(c.Prompt));
    }
}
