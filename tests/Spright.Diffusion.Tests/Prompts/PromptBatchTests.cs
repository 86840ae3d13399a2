using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Components;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Prompts;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tests.Tokenization;

namespace Spright.Diffusion.Tests.Prompts;

/// <summary>
/// Batches of prompts of different lengths through the batch seam. There is no Python reference of a batch; each
/// expected row is put together from the single-prompt references of area I where the upstream code makes the batch
/// row exactly that (the reason is written above each test), at the parity tolerance 1e-4 + 1e-4·|ref|.
/// </summary>
public sealed class PromptBatchTests(PromptEncoderFixture fixture) : IClassFixture<PromptEncoderFixture>
{
    private const double Tolerance = 1e-4;
    private const int Chunk = 77;

    // lpw_stable_diffusion.get_weighted_text_embeddings, for a list of prompts:
    // * get_prompts_with_weights tokenizes every prompt on its own (no padding, no start/end token);
    // * max_length is the longest token list over ALL prompts and (when given) ALL negative prompts, and
    //   max_embeddings_multiples = min(3, (max_length - 1) // 75 + 1) is one number for the whole call;
    // * pad_tokens_and_weights lays every row out as [bos] + ids + [pad]… + [eos] at that one length, and
    //   get_unweighted_text_embeddings cuts chunk i of every row at i·75 … i·75 + 77 and covers both ends with the
    //   start and end tokens: the rows never mix, so a row depends only on its own prompt and the chunk count;
    // * the mean restore takes mean(axis=[-2, -1]): one mean per sample.
    // So a prompt's row is its single-prompt encoding at the batch's chunk count. The references give these at two
    // chunks: weighted_long's prompt, and two short weighted prompts that a long prompt forced to two chunks:
    // "[sun]" (weighted_long's negative prompt) and long_2chunks' negative prompt. An unweighted short prompt at two chunks is its one-chunk encoding
    // (its chunk 0 is [bos, ids, pad…, eos], as at one chunk) followed by the chunk [bos, pad×75, eos], which is the
    // one-chunk encoding of "" (plain's negative prompt); with all weights 1 the mean restore multiplies by
    // mean/mean = 1.
    [Fact]
    public void LpwEncode_BatchOfDifferentLengths_EachRowIsItsPromptAtTheBatchsChunkCount()
    {
        PromptWeightingCase plain = Lpw("plain"), weightedLong = Lpw("weighted_long"), longTwo = Lpw("long_2chunks");
        PromptEmbeddings embeds = new LpwPromptEncoder().Encode(
            [plain.Prompt, weightedLong.Prompt, weightedLong.NegativePrompt],
            [plain.NegativePrompt, longTwo.NegativePrompt, weightedLong.NegativePrompt],
            fixture.Context);

        float[] empty = plain.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray();
        AssertRows(embeds.PromptEmbeds, 2 * Chunk, "prompt_embeds",
            [.. plain.Npy("prompt_embeds.npy").AsFloat32(), .. empty],
            weightedLong.Npy("prompt_embeds.npy").AsFloat32().ToArray(),
            weightedLong.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray());
        AssertRows(embeds.NegativePromptEmbeds!, 2 * Chunk, "negative_prompt_embeds",
            [.. empty, .. empty],
            longTwo.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray(),
            weightedLong.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray());
    }

    // As above: the chunk count is taken over the negative prompts too, so one long negative prompt puts every row
    // of both sides, short prompts included, at two chunks. Both sides go through the same functions, so the long
    // prompt of weighted_long as a negative prompt gives its prompt reference.
    [Fact]
    public void LpwEncode_OneLongNegativePrompt_PutsEveryRowAtItsChunkCount()
    {
        PromptWeightingCase plain = Lpw("plain"), weightedLong = Lpw("weighted_long");
        PromptEmbeddings embeds = new LpwPromptEncoder().Encode(
            [plain.Prompt, weightedLong.NegativePrompt], ["", weightedLong.Prompt], fixture.Context);

        float[] empty = plain.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray();
        AssertRows(embeds.PromptEmbeds, 2 * Chunk, "prompt_embeds",
            [.. plain.Npy("prompt_embeds.npy").AsFloat32(), .. empty],
            weightedLong.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray());
        AssertRows(embeds.NegativePromptEmbeds!, 2 * Chunk, "negative_prompt_embeds",
            [.. empty, .. empty],
            weightedLong.Npy("prompt_embeds.npy").AsFloat32().ToArray());
    }

    // Without guidance (uncond_prompt=None) max_length is taken over the prompts only and no negative side exists.
    [Fact]
    public void LpwEncode_BatchWithoutNegativePrompts_EncodesOnlyThePrompts()
    {
        PromptWeightingCase plain = Lpw("plain"), longTwo = Lpw("long_2chunks");
        PromptEmbeddings embeds = new LpwPromptEncoder().Encode([plain.Prompt, longTwo.Prompt], null, fixture.Context);

        Assert.Null(embeds.NegativePromptEmbeds);
        AssertRows(embeds.PromptEmbeds, 2 * Chunk, "prompt_embeds",
            [.. plain.Npy("prompt_embeds.npy").AsFloat32(), .. plain.Npy("negative_prompt_embeds.npy").AsFloat32()],
            longTwo.Npy("prompt_embeds.npy").AsFloat32().ToArray());
    }

    // long_truncated's prompt needs more than three chunks: it is cut to 225 tokens (its reference), which puts the
    // batch at three chunks; "" at three chunks is long_truncated's negative reference, and the short unweighted
    // prompt is its one-chunk encoding followed by two empty chunks. get_prompts_with_weights warns once for the
    // prompts' list (nothing of the negative list is truncated).
    [Fact]
    public void LpwEncode_TruncatedPromptInABatch_PutsTheBatchAtTheMaximumAndWarnsOnce()
    {
        PromptWeightingCase plain = Lpw("plain"), longTruncated = Lpw("long_truncated");
        var logger = new CollectingLogger();
        PromptEmbeddings embeds = new LpwPromptEncoder().Encode(
            [plain.Prompt, longTruncated.Prompt], ["", ""], new PromptEncoderContext(fixture.Tokenizer, fixture.TextEncoder, logger));

        float[] empty = plain.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray();
        AssertRows(embeds.PromptEmbeds, 3 * Chunk, "prompt_embeds",
            [.. plain.Npy("prompt_embeds.npy").AsFloat32(), .. empty, .. empty],
            longTruncated.Npy("prompt_embeds.npy").AsFloat32().ToArray());
        float[] emptyThree = longTruncated.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray();
        AssertRows(embeds.NegativePromptEmbeds!, 3 * Chunk, "negative_prompt_embeds", emptyThree, emptyThree);
        Assert.Equal(new[] { "Prompt was truncated. Try to shorten the prompt or increase max_embeddings_multiples" },
            logger.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message));
    }

    // compel 2.2.1: Compel.__call__(list) runs build_conditioning_tensor on each prompt on its own and then
    // pad_conditioning_tensors_to_same_length, and the pipeline pads the prompts' and the negative prompts'
    // conditionings to one length the same way. _pad_conditioning_tensors_to_same_length appends the conditioning
    // of "" (one 77-token chunk, build_conditioning_tensor("")) until a row has the longest token count. So a short
    // prompt's row is its own conditioning (its single-prompt reference when that was not padded) followed by
    // empty-prompt chunks, which are plain's negative reference (the conditioning of ""); long_vs_short_negative's
    // references are its prompt (two chunks) and "blurry" padded to two chunks. group down-weights a fragment
    // (masked text-encoder rows) in the same batch.
    [Fact]
    public void CompelEncode_BatchOfDifferentLengths_PadsEachRowWithEmptyPromptChunks()
    {
        PromptWeightingCase plain = Compel("plain"), plus = Compel("plus"), group = Compel("group"), nested = Compel("nested"),
            longVsShort = Compel("long_vs_short_negative");
        PromptEmbeddings embeds = new CompelPromptEncoder().Encode(
            [plus.Prompt, longVsShort.Prompt, group.Prompt],
            [plus.NegativePrompt, longVsShort.NegativePrompt, nested.NegativePrompt],
            fixture.Context);

        float[] empty = plain.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray();
        AssertRows(embeds.PromptEmbeds, 2 * Chunk, "prompt_embeds",
            [.. plus.Npy("prompt_embeds.npy").AsFloat32(), .. empty],
            longVsShort.Npy("prompt_embeds.npy").AsFloat32().ToArray(),
            [.. group.Npy("prompt_embeds.npy").AsFloat32(), .. empty]);
        AssertRows(embeds.NegativePromptEmbeds!, 2 * Chunk, "negative_prompt_embeds",
            [.. empty, .. empty],
            longVsShort.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray(),
            [.. nested.Npy("negative_prompt_embeds.npy").AsFloat32(), .. empty]);
    }

    // As above, with no negative side: the prompts are padded among themselves (Compel.__call__ on the list).
    [Fact]
    public void CompelEncode_BatchWithoutNegativePrompts_PadsThePromptsAmongThemselves()
    {
        PromptWeightingCase plain = Compel("plain"), minus = Compel("minus"), longPrompt = Compel("long");
        PromptEmbeddings embeds = new CompelPromptEncoder().Encode([minus.Prompt, longPrompt.Prompt], null, fixture.Context);

        Assert.Null(embeds.NegativePromptEmbeds);
        AssertRows(embeds.PromptEmbeds, 2 * Chunk, "prompt_embeds",
            [.. minus.Npy("prompt_embeds.npy").AsFloat32(), .. plain.Npy("negative_prompt_embeds.npy").AsFloat32()],
            longPrompt.Npy("prompt_embeds.npy").AsFloat32().ToArray());
    }

    // truncate_long_prompts=True (compel's default): every conditioning is one 77-token chunk (the references'
    // prompt_embeds_truncated), except that .and() concatenates its parts (and's truncated reference has 154 tokens);
    // the padding then appends the conditioning of "", which truncation leaves as it is.
    [Fact]
    public void CompelEncode_TruncatingModeBatch_GivesEachPromptsTruncatedConditioningPadded()
    {
        PromptWeightingCase plain = Compel("plain"), longPrompt = Compel("long"), and = Compel("and"), group = Compel("group");
        PromptEmbeddings embeds = new CompelPromptEncoder(new CompelOptions { TruncateLongPrompts = true }).Encode(
            [longPrompt.Prompt, and.Prompt, group.Prompt], ["", "", ""], fixture.Context);

        float[] empty = plain.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray();
        AssertRows(embeds.PromptEmbeds, 2 * Chunk, "prompt_embeds",
            [.. longPrompt.Npy("prompt_embeds_truncated.npy").AsFloat32(), .. empty],
            and.Npy("prompt_embeds_truncated.npy").AsFloat32().ToArray(),
            [.. group.Npy("prompt_embeds_truncated.npy").AsFloat32(), .. empty]);
        AssertRows(embeds.NegativePromptEmbeds!, 2 * Chunk, "negative_prompt_embeds", [.. empty, .. empty], [.. empty, .. empty], [.. empty, .. empty]);
    }

    // diffusers' encode_prompt (no weighting) encodes the ids tokenizer(prompt, padding="max_length", max_length=77,
    // truncation=True) gives, [bos, ids, eos, pad…] or [bos, the first 75 ids, eos], row by row. For text without
    // compel syntax these are the ids compel encodes (_chunk_and_pad_token_ids; truncate_long_prompts=True for the cut
    // one), and with every weight 1 build_weighted_embedding_tensor returns the text encoder's states unchanged, so
    // compel's plain and long references are these rows. (lpw's are not: it puts the end token at position 76.)
    [Fact]
    public void TruncatingEncode_Batch_EachRowIsItsPromptPaddedAndTruncatedTo77()
    {
        PromptWeightingCase plain = Compel("plain"), longPrompt = Compel("long");
        PromptEmbeddings embeds = new TruncatingPromptEncoder().Encode([plain.Prompt, longPrompt.Prompt], ["", plain.Prompt], fixture.Context);

        float[] plainRow = plain.Npy("prompt_embeds.npy").AsFloat32().ToArray();
        float[] empty = plain.Npy("negative_prompt_embeds.npy").AsFloat32().ToArray();
        AssertRows(embeds.PromptEmbeds, Chunk, "prompt_embeds", plainRow, longPrompt.Npy("prompt_embeds_truncated.npy").AsFloat32().ToArray());
        AssertRows(embeds.NegativePromptEmbeds!, Chunk, "negative_prompt_embeds", empty, plainRow);
        Assert.Null(new TruncatingPromptEncoder().Encode([plain.Prompt], null, fixture.Context).NegativePromptEmbeds);
    }

    public static TheoryData<PromptWeighting> Weightings() => [PromptWeighting.None, PromptWeighting.Lpw, PromptWeighting.Compel];

    [Theory]
    [MemberData(nameof(Weightings))]
    public void Encode_BatchOfThreeWithNegatives_RunsTheTextEncoderOnceWithEveryDistinctRowOnce(PromptWeighting weighting)
    {
        var counting = new CountingTextEncoder(fixture.TextEncoder);
        var context = new PromptEncoderContext(fixture.Tokenizer, counting);
        // compel's "blue-" is down-weighted: masked rows go in the same call.
        string[] prompts = weighting == PromptWeighting.Compel ? ["a red cube", "a blue- sphere", "a red cube"] : ["a red cube", "a (blue) sphere", "a red cube"];
        PromptEmbeddings embeds = PromptEncoders.Create(weighting).Encode(prompts, ["", "", "blurry"], context);

        Assert.Equal(1, counting.Calls);
        Assert.Equal(new[] { 3, Chunk, 32 }, embeds.PromptEmbeds.Shape());
        Assert.Equal(new[] { 3, Chunk, 32 }, embeds.NegativePromptEmbeds!.Shape());
        // "a red cube" twice and "" twice are encoded once each: the two prompts' rows, "" and "blurry"; compel adds the
        // row with "blue" masked out (the empty-prompt row its weighting needs is the row of "").
        Assert.Equal(weighting == PromptWeighting.Compel ? 5 : 4, counting.Rows);
        int size = Chunk * 32;
        Assert.Equal(embeds.PromptEmbeds.AsSpan()[..size].ToArray(), embeds.PromptEmbeds.AsSpan()[(2 * size)..].ToArray());
    }

    [Theory]
    [MemberData(nameof(Weightings))]
    public void Encode_BatchMembersAlone_GiveTheSameRowsAsTheBatchAtTheSameLength(PromptWeighting weighting)
    {
        IPromptEncoder encoder = PromptEncoders.Create(weighting);
        string[] prompts = ["a red cube on top of a blue sphere", "a cat", "a dog on a sofa"];
        string[] negatives = ["blurry", "", "lowres"];
        PromptEmbeddings batch = encoder.Encode(prompts, negatives, fixture.Context);
        int size = Chunk * 32;
        for (int b = 0; b < prompts.Length; b++)
        {
            PromptEmbeddings alone = encoder.Encode([prompts[b]], [negatives[b]], fixture.Context);
            AssertClose.All(alone.PromptEmbeds.AsSpan(), batch.PromptEmbeds.AsSpan().Slice(b * size, size), 1e-5, 1e-5, $"prompt {b}");
            AssertClose.All(alone.NegativePromptEmbeds!.AsSpan(), batch.NegativePromptEmbeds!.AsSpan().Slice(b * size, size), 1e-5, 1e-5, $"negative {b}");
        }
    }

    [Theory]
    [MemberData(nameof(Weightings))]
    public void Encode_EmptyBatchNullPromptOrNegativeCountMismatch_ThrowsArgumentExceptionNamingTheParameter(PromptWeighting weighting)
    {
        IPromptEncoder encoder = PromptEncoders.Create(weighting);
        Assert.Equal("prompts", Assert.Throws<ArgumentException>(() => encoder.Encode([], null, fixture.Context)).ParamName);
        Assert.Equal("prompts", Assert.Throws<ArgumentNullException>(() => encoder.Encode(null!, null, fixture.Context)).ParamName);
        Assert.Equal("context", Assert.Throws<ArgumentNullException>(() => encoder.Encode(["a"], null, null!)).ParamName);
        ArgumentException nullPrompt = Assert.Throws<ArgumentException>(() => encoder.Encode(["a", null!], null, fixture.Context));
        Assert.Equal("prompts", nullPrompt.ParamName);
        Assert.Contains("prompts[1]", nullPrompt.Message, StringComparison.Ordinal);
        ArgumentException mismatch = Assert.Throws<ArgumentException>(() => encoder.Encode(["a", "b"], [""], fixture.Context));
        Assert.Equal("negativePrompts", mismatch.ParamName);
        Assert.Contains("1 negative prompts were given for 2 prompts", mismatch.Message, StringComparison.Ordinal);
        Assert.Equal("negativePrompts", Assert.Throws<ArgumentException>(() => encoder.Encode(["a"], [null!], fixture.Context)).ParamName);
    }

    [Fact]
    public void Encode_BadPromptInABatch_NamesThePromptAndThePosition()
    {
        ArgumentException compel = Assert.Throws<ArgumentException>(
            () => new CompelPromptEncoder().Encode(["ok", "fine"], ["", "(\"a\", \"b\").blend(1)"], fixture.Context));
        Assert.Equal("negativePrompts", compel.ParamName);
        Assert.StartsWith("negativePrompts[1]: ", compel.Message, StringComparison.Ordinal);
        Assert.Contains("position 0", compel.Message, StringComparison.Ordinal);

        string overflowing = new string('(', 8_000) + "red" + new string(')', 8_000);
        ArgumentException lpw = Assert.Throws<ArgumentException>(() => new LpwPromptEncoder().Encode(["ok", overflowing], null, fixture.Context));
        Assert.Equal("prompts", lpw.ParamName);
        Assert.StartsWith("prompts[1]: ", lpw.Message, StringComparison.Ordinal);
        Assert.Contains("position 8000", lpw.Message, StringComparison.Ordinal);
        Assert.EndsWith("(Parameter 'prompts')", lpw.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CompelEncode_OnePromptOverMaxChunksInABatch_IsRejectedNamingIt()
    {
        string longPrompt = Compel("long").Prompt;
        var options = new CompelOptions { MaxChunks = 1 };
        ArgumentException e = Assert.Throws<ArgumentException>(() => new CompelPromptEncoder(options).Encode(["a cat", longPrompt], null, fixture.Context));
        Assert.StartsWith("prompts[1]: The prompt needs 2 chunks", e.Message, StringComparison.Ordinal);
        Assert.Contains("MaxChunks", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_CancelledToken_ThrowsBeforeTheTextEncoderRuns()
    {
        var counting = new CountingTextEncoder(fixture.TextEncoder);
        var context = new PromptEncoderContext(fixture.Tokenizer, counting);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        foreach (IPromptEncoder encoder in new IPromptEncoder[] { new LpwPromptEncoder(), new CompelPromptEncoder(), new TruncatingPromptEncoder() })
        {
            Assert.ThrowsAny<OperationCanceledException>(() => encoder.Encode(["a", "b"], ["", ""], context, cancelled.Token));
        }
        Assert.Equal(0, counting.Calls);
    }

    private static PromptWeightingCase Lpw(string id) => PromptWeightingCase.Load("lpw", id);

    private static PromptWeightingCase Compel(string id) => PromptWeightingCase.Load("compel", id);

    /// <summary>Asserts the shape [rows, tokens, hidden] and each row against its expected values.</summary>
    private static void AssertRows(Tensor<float> actual, int tokens, string what, params float[][] expectedRows)
    {
        int[] shape = actual.Shape();
        Assert.Equal(new[] { expectedRows.Length, tokens }, shape[..2]);
        int size = tokens * shape[2];
        for (int b = 0; b < expectedRows.Length; b++)
        {
            AssertClose.All(expectedRows[b], actual.AsSpan().Slice(b * size, size), Tolerance, Tolerance, $"{what} row {b}");
        }
    }

    /// <summary>Counts the text-encoder calls and rows going to the wrapped encoder.</summary>
    private sealed class CountingTextEncoder(ITextEncoder inner) : ITextEncoder, IAttentionMaskTextEncoder
    {
        private int _calls;
        private int _rows;

        public int Calls => _calls;

        public int Rows => _rows;

        public int? HiddenSize => inner.HiddenSize;

        public int? MaxSequenceLength => inner.MaxSequenceLength;

        public IDisposable? Acquire() => inner.Acquire();

        public Tensor<float> Encode(ReadOnlySpan<int> inputIds, int batchSize, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            Interlocked.Add(ref _rows, batchSize);
            return inner.Encode(inputIds, batchSize, cancellationToken);
        }

        public Tensor<float> Encode(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batchSize, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            Interlocked.Add(ref _rows, batchSize);
            return ((IAttentionMaskTextEncoder)inner).Encode(inputIds, attentionMask, batchSize, cancellationToken);
        }

        public void Dispose()
        {
        }
    }
}
