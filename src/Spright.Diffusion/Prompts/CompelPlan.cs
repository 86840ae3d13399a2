using System.Buffers;
using System.Numerics.Tensors;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Prompts;

/// <summary>
/// compel 2.2.1's conditioning for parsed prompts (compel.py: <c>build_conditioning_tensor_for_conjunction</c>,
/// <c>_get_conditioning_for_blend</c>, <c>_get_conditioning_for_cross_attention_control</c>,
/// <c>pad_conditioning_tensors_to_same_length</c>; embeddings_provider.py:
/// <c>get_embeddings_for_weighted_prompt_fragments</c>, <c>get_token_ids</c>, <c>_chunk_and_pad_token_ids</c>,
/// <c>_find_next_best_split_point</c>, <c>build_weighted_embedding_tensor</c>, <c>_get_token_ranges_for_fragments</c>)
/// in two steps: the token work first, which collects every text-encoder row (into one <see cref="EncoderBatch"/>),
/// then the float32 arithmetic on the encoded rows.
/// </summary>
internal sealed class CompelPlan
{
    /// <summary>The size of the blocks a node is computed in (32 KiB of float32, a few tokens).</summary>
    private const int BlockFloats = 8192;

    private readonly IPromptTokenizer _tokenizer;
    private readonly bool _truncate;
    private readonly int _chunk;
    private int _emptyRow = -1;
    private ChunkNode? _empty;

    public CompelPlan(IPromptTokenizer tokenizer, bool truncate)
    {
        _tokenizer = tokenizer;
        _truncate = truncate;
        _chunk = tokenizer.ModelMaxLength;
        Batch = new EncoderBatch(_chunk);
    }

    public EncoderBatch Batch { get; }

    /// <summary>A conditioning tensor to compute, [Tokens × hidden].</summary>
    internal abstract class Node(int tokens)
    {
        public int Tokens { get; } = tokens;
    }

    /// <summary>One text-encoder chunk with per-token weights (build_weighted_embedding_tensor's loop body).</summary>
    private sealed class ChunkNode(int row, float[] weights) : Node(weights.Length)
    {
        public int Row { get; } = row;

        public float[] Weights { get; } = weights;

        public bool AllOne { get; } = Array.TrueForAll(weights, w => w == 1f);
    }

    private sealed class ConcatNode(IReadOnlyList<Node> parts) : Node(parts.Sum(p => p.Tokens))
    {
        public IReadOnlyList<Node> Parts { get; } = parts;
    }

    /// <summary>Σ parts[k]·weights[k] (apply_embedding_weights; the weights already normalised when asked).</summary>
    private sealed class WeightedSumNode(IReadOnlyList<Node> parts, float[] weights) : Node(parts[0].Tokens)
    {
        public IReadOnlyList<Node> Parts { get; } = parts;

        public float[] Weights { get; } = weights;
    }

    /// <summary>empty + (inner − empty)·weight with the empty-prompt conditioning padded to the inner's length.</summary>
    private sealed class LerpFromEmptyNode(Node inner, Node empty, float weight) : Node(inner.Tokens)
    {
        public Node Inner { get; } = inner;

        public Node Empty { get; } = empty;

        public float Weight { get; } = weight;
    }

    /// <summary>The conditioning of a whole prompt (build_conditioning_tensor).</summary>
    public Node Conditioning(CompelConjunction conjunction, string paramName)
    {
        if (conjunction.Prompts.Count == 0)
        {
            throw new ArgumentException("compel cannot use the prompt: it has no text to encode (only LoRA terms or empty parentheses).", paramName);
        }
        var parts = new List<Node>();
        for (int i = 0; i < conjunction.Prompts.Count; i++)
        {
            Node part = conjunction.Prompts[i] switch
            {
                CompelBlend blend => Blend(blend, paramName),
                CompelFlattenedPrompt flattened when flattened.WantsCrossAttentionControl => CrossAttentionOriginal(flattened, paramName),
                CompelFlattenedPrompt flattened => FlattenedPrompt(flattened, paramName),
                _ => throw new InvalidOperationException("unexpected prompt part"),
            };
            double weight = conjunction.Weights[i];
            if (weight != 1)
            {
                Node empty = PadTo(EmptyString(), part.Tokens);
                part = new LerpFromEmptyNode(part, empty, (float)weight);
            }
            parts.Add(part);
        }
        return parts.Count == 1 ? parts[0] : new ConcatNode(parts);
    }

    /// <summary>Pads with empty-prompt chunks (_pad_conditioning_tensors_to_same_length).</summary>
    public Node PadTo(Node node, int tokens)
    {
        if (node.Tokens >= tokens)
        {
            return node;
        }
        var parts = new List<Node> { node };
        int have = node.Tokens;
        while (have < tokens)
        {
            parts.Add(EmptyString());
            have += _chunk;
        }
        return new ConcatNode(parts);
    }

    private ChunkNode EmptyString()
    {
        if (_emptyRow < 0)
        {
            _emptyRow = Batch.Add(EmptyIds(), null);
        }
        // Nodes are immutable: one node serves every empty-prompt chunk.
        if (_empty is null)
        {
            var ones = new float[_chunk];
            Array.Fill(ones, 1f);
            _empty = new ChunkNode(_emptyRow, ones);
        }
        return _empty;
    }

    private int[] EmptyIds()
    {
        var ids = new int[_chunk];
        Array.Fill(ids, _tokenizer.PadTokenId);
        ids[0] = _tokenizer.BosTokenId;
        ids[1] = _tokenizer.EosTokenId;
        return ids;
    }

    private WeightedSumNode Blend(CompelBlend blend, string paramName)
    {
        var parts = blend.Prompts.Select(p => FlattenedPrompt((CompelFlattenedPrompt)p, paramName)).ToList();
        int longest = parts.Max(p => p.Tokens);
        if (parts.Exists(p => p.Tokens != longest))
        {
            parts = parts.Select(p => PadTo(p, longest)).ToList();
        }
        float[] weights = blend.Weights.Select(w => (float)w).ToArray();
        if (blend.Normalize)
        {
            float sum = 0;
            foreach (float w in weights)
            {
                sum += w;
            }
            for (int i = 0; i < weights.Length; i++)
            {
                weights[i] /= sum;
            }
        }
        return new WeightedSumNode(parts, weights);
    }

    private Node CrossAttentionOriginal(CompelFlattenedPrompt prompt, string paramName)
    {
        var original = new List<CompelFragment>();
        var edited = new List<CompelFragment>();
        foreach (object child in prompt.Children)
        {
            if (child is CompelSwap swap)
            {
                original.AddRange(AsFragments(swap.Original, paramName));
                edited.AddRange(AsFragments(swap.Edited, paramName));
            }
            else
            {
                original.Add((CompelFragment)child);
                edited.Add((CompelFragment)child);
            }
        }
        Node originalNode = Fragments(original.Select(f => f.Text).ToList(), original.Select(f => f.Weight).ToList(), paramName);
        int editedTokens = ChunkAndPad(edited.Select(f => f.Text).ToList(), edited.Select(f => f.Weight).ToList()).Ids.Length;
        return PadTo(originalNode, editedTokens);
    }

    private static IEnumerable<CompelFragment> AsFragments(IReadOnlyList<object> items, string paramName) =>
        items.Select(x => x as CompelFragment
            ?? throw new ArgumentException("compel cannot use the prompt: a .swap() inside another .swap() has no text of its own.", paramName));

    private Node FlattenedPrompt(CompelFlattenedPrompt prompt, string paramName)
    {
        var texts = new List<string>(prompt.Children.Count);
        var weights = new List<double>(prompt.Children.Count);
        foreach (object child in prompt.Children)
        {
            var fragment = (CompelFragment)child;
            texts.Add(fragment.Text);
            weights.Add(fragment.Weight);
        }
        return Fragments(texts, weights, paramName);
    }

    /// <summary>get_embeddings_for_weighted_prompt_fragments for one prompt.</summary>
    private Node Fragments(List<string> fragments, List<double> weights, string paramName)
    {
        if (fragments.Count == 0)
        {
            fragments = [string.Empty];
            weights = [1.0];
        }
        var fragmentIds = new List<int[]>(fragments.Count);
        foreach (string fragment in fragments)
        {
            fragmentIds.Add(FragmentIds(fragment));
        }
        (int[] ids, float[] tokenWeights) = ChunkAndPad(fragmentIds, weights);
        Node baseEmbedding = Weighted(ids, tokenWeights, null);
        List<Node>? embeddings = null;
        List<float>? lerpWeights = null;
        List<(int? Start, int? End)> ranges = TokenRanges(ids, fragmentIds, fragments, paramName);
        for (int index = 0; index < ranges.Count; index++)
        {
            double fragmentWeight = weights[index];
            if (fragmentWeight >= 1)
            {
                continue;
            }
            if (ranges[index].Start is not int start || ranges[index].End is not int end)
            {
                throw new ArgumentException(
                    $"compel cannot use the prompt: the fragment '{fragments[index]}' is weighted below 1 but has no tokens.", paramName);
            }
            // The attention mask (all ones) with the fragment's tokens masked out.
            var without = new int[ids.Length];
            Array.Fill(without, 1);
            for (int i = start; i < Math.Min(end + 1, without.Length); i++)
            {
                without[i] = 0;
            }
            if (!_truncate)
            {
                for (int i = 0; i < without.Length; i += _chunk)
                {
                    without[i] = 1;
                }
                for (int i = _chunk - 1; i < without.Length; i += _chunk)
                {
                    without[i] = 1;
                }
            }
            embeddings ??= [baseEmbedding];
            lerpWeights ??= [1f];
            embeddings.Add(Weighted(ids, tokenWeights, without));
            double clamped = Math.Max(1e-5, fragmentWeight);
            lerpWeights.Add((float)Math.Tan((1.0 - clamped) * Math.PI / 2));
        }
        if (embeddings is null || lerpWeights is null)
        {
            return baseEmbedding;
        }
        float sum = 0;
        foreach (float w in lerpWeights)
        {
            sum += w;
        }
        var normalized = new float[lerpWeights.Count];
        for (int i = 0; i < normalized.Length; i++)
        {
            normalized[i] = lerpWeights[i] / sum;
        }
        return new WeightedSumNode(embeddings, normalized);
    }

    /// <summary>build_weighted_embedding_tensor: one text-encoder row per chunk (<paramref name="mask"/> null: all ones).</summary>
    private ConcatNode Weighted(int[] ids, float[] weights, int[]? mask)
    {
        if (_emptyRow < 0 && Array.Exists(weights, w => w != 1f))
        {
            _emptyRow = Batch.Add(EmptyIds(), null);
        }
        var chunks = new List<Node>(ids.Length / _chunk);
        for (int start = 0; start < ids.Length; start += _chunk)
        {
            int[]? chunkMask = mask is null || !mask.AsSpan(start, _chunk).ContainsAnyExcept(1) ? null : mask.AsSpan(start, _chunk).ToArray();
            int row = Batch.Add(ids.AsSpan(start, _chunk).ToArray(), chunkMask);
            chunks.Add(new ChunkNode(row, weights.AsSpan(start, _chunk).ToArray()));
        }
        return new ConcatNode(chunks);
    }

    /// <summary>get_token_ids(texts, include_start_and_end_markers=False).</summary>
    private int[] FragmentIds(string text)
    {
        int[] ids = _tokenizer.Encode(text);
        if (_truncate && ids.Length > _chunk)
        {
            int[] cut = new int[_chunk];
            Array.Copy(ids, cut, _chunk - 1);
            cut[^1] = ids[^1];
            ids = cut;
        }
        int start = ids.Length > 0 && ids[0] == _tokenizer.BosTokenId ? 1 : 0;
        int end = ids.Length;
        while (end > start && (ids[end - 1] == _tokenizer.PadTokenId || ids[end - 1] == _tokenizer.EosTokenId))
        {
            end--;
        }
        return start == 0 && end == ids.Length ? ids : ids.AsSpan(start, end - start).ToArray();
    }

    /// <summary>get_token_ids_and_expand_weights + _chunk_and_pad_token_ids: the ids, their weights and the
    /// attention mask (all ones).</summary>
    internal (int[] Ids, float[] Weights, int[] Mask) ChunkAndPad(List<string> fragments, List<double> weights)
    {
        if (fragments.Count == 0)
        {
            fragments = [string.Empty];
            weights = [1.0];
        }
        var fragmentIds = new List<int[]>(fragments.Count);
        foreach (string fragment in fragments)
        {
            fragmentIds.Add(FragmentIds(fragment));
        }
        (int[] ids, float[] tokenWeights) = ChunkAndPad(fragmentIds, weights);
        var mask = new int[ids.Length];
        Array.Fill(mask, 1);
        return (ids, tokenWeights, mask);
    }

    private (int[] Ids, float[] Weights) ChunkAndPad(List<int[]> fragmentIds, List<double> weights)
    {
        int total = 0;
        foreach (int[] ids in fragmentIds)
        {
            total += ids.Length;
        }
        var remainingIds = new int[total];
        var remainingWeights = new float[total];
        int at = 0;
        for (int f = 0; f < fragmentIds.Count; f++)
        {
            int[] ids = fragmentIds[f];
            ids.CopyTo(remainingIds, at);
            remainingWeights.AsSpan(at, ids.Length).Fill((float)weights[f]);
            at += ids.Length;
        }

        // The content length of every chunk first, then the chunks: [bos] content [eos] [pad]…
        int content = _chunk - 2;
        var splits = new List<int>();
        int offset = 0;
        while (true)
        {
            int left = total - offset;
            int split = Math.Min(NextSplitPoint(remainingIds, offset, content), left);
            splits.Add(split);
            offset += split;
            if (_truncate || offset >= total)
            {
                break;
            }
        }
        var allIds = new int[checked(splits.Count * _chunk)];
        var allWeights = new float[allIds.Length];
        allWeights.AsSpan().Fill(1f);
        offset = 0;
        for (int c = 0; c < splits.Count; c++)
        {
            int split = splits[c];
            Span<int> chunkIds = allIds.AsSpan(c * _chunk, _chunk);
            chunkIds[0] = _tokenizer.BosTokenId;
            remainingIds.AsSpan(offset, split).CopyTo(chunkIds[1..]);
            remainingWeights.AsSpan(offset, split).CopyTo(allWeights.AsSpan((c * _chunk) + 1, split));
            chunkIds[split + 1] = _tokenizer.EosTokenId;
            chunkIds[(split + 2)..].Fill(_tokenizer.PadTokenId);
            offset += split;
        }
        return (allIds, allWeights);
    }

    /// <summary>_find_next_best_split_point with SplitLongTextMode.SENTENCES (then PHRASES, WORDS, BRUTAL).</summary>
    private int NextSplitPoint(int[] ids, int offset, int maxLength)
    {
        int count = ids.Length - offset;
        if (_truncate || count <= maxLength)
        {
            return maxLength;
        }
        int Find(Func<string, bool> accept)
        {
            for (int index = Math.Min(maxLength, count) - 1; index >= 0; index--)
            {
                string? token = _tokenizer.IdToToken(ids[offset + index]);
                if (token is not null && accept(token))
                {
                    return index;
                }
            }
            return -1;
        }
        int found = Find(t => t == ".</w>");
        if (found < 0)
        {
            found = Find(t => t is ".</w>" or ",</w>" or ";</w>" or ":</w>");
        }
        if (found < 0)
        {
            found = Find(t => t.EndsWith("</w>", StringComparison.Ordinal));
        }
        return found >= 0 ? found + 1 : maxLength;
    }

    /// <summary>_get_token_ranges_for_fragments.</summary>
    private List<(int? Start, int? End)> TokenRanges(int[] chunked, List<int[]> perFragmentIds, List<string> fragments, string paramName)
    {
        var result = new List<(int?, int?)>(fragments.Count);
        int fragmentStart = 0;
        for (int fragmentIndex = 0; fragmentIndex < fragments.Count; fragmentIndex++)
        {
            int[] fragmentIds = perFragmentIds[fragmentIndex];
            if (fragmentIds.Length == 0)
            {
                result.Add((null, null));
                continue;
            }
            if (_truncate && fragmentStart >= _chunk - 1)
            {
                break;
            }
            while (true)
            {
                if (fragmentStart >= chunked.Length - 1)
                {
                    if (_truncate)
                    {
                        fragmentStart = chunked.Length - 1;
                        break;
                    }
                    throw RangeError(fragmentIndex, fragments, "start", paramName);
                }
                if (chunked[fragmentStart] == fragmentIds[0])
                {
                    break;
                }
                fragmentStart++;
            }
            int fragmentEnd = fragmentStart;
            int relative = 0;
            while (true)
            {
                if (fragmentEnd >= chunked.Length - 1)
                {
                    if (_truncate)
                    {
                        fragmentEnd = chunked.Length - 1;
                        break;
                    }
                    throw RangeError(fragmentIndex, fragments, "end", paramName);
                }
                int id = chunked[fragmentEnd];
                if (id == fragmentIds[relative])
                {
                    relative++;
                    if (relative == fragmentIds.Length)
                    {
                        break;
                    }
                    fragmentEnd++;
                }
                else if (!_truncate && (id == _tokenizer.EosTokenId || id == _tokenizer.PadTokenId || id == _tokenizer.BosTokenId))
                {
                    fragmentEnd++;
                }
                else
                {
                    throw RangeError(fragmentIndex, fragments, "tokens", paramName);
                }
            }
            result.Add((fragmentStart, fragmentEnd));
            fragmentStart = fragmentEnd + 1;
        }
        return result;
    }

    private static ArgumentException RangeError(int index, List<string> fragments, string what, string paramName) =>
        new($"compel cannot use the prompt: it cannot find the {what} of the tokens of fragment {index} ('{fragments[index]}').", paramName);

    /// <summary>Computes a node from the encoded rows into <paramref name="destination"/> ([Tokens × hidden], row-major).</summary>
    /// <remarks>
    /// The node is computed a few tokens at a time, every element with the same float32 operations in the same order
    /// as on whole tensors (torch's), so the intermediate tensors (the parts of a blend, the empty-prompt conditioning
    /// of a weighted conjunction part) only ever exist one block at a time, in a small pooled buffer, and a part's
    /// weight is applied as its values are read (<c>TensorPrimitives.MultiplyAdd</c> rounds the product and the sum
    /// separately, as torch's <c>a + b * w</c> does).
    /// </remarks>
    public void Evaluate(Node node, Span<float> destination)
    {
        int hidden = Batch.HiddenSize;
        if (destination.Length != node.Tokens * hidden)
        {
            throw new ArgumentException("The destination does not have the node's size.", nameof(destination));
        }
        int block = Math.Max(1, BlockFloats / hidden);
        int blockFloats = block * hidden;
        int levels = ScratchLevels(node, Combine.Write);
        float[]? scratch = levels == 0 ? null : ArrayPool<float>.Shared.Rent(levels * blockFloats);
        try
        {
            var context = new EvaluationContext(this, hidden, blockFloats, scratch);
            for (int start = 0; start < node.Tokens; start += block)
            {
                int count = Math.Min(block, node.Tokens - start);
                context.Evaluate(node, start, count, destination.Slice(start * hidden, count * hidden), Combine.Write, 1f, 0);
            }
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>How a node's values go into the destination.</summary>
    private enum Combine
    {
        /// <summary>destination = value.</summary>
        Write,

        /// <summary>destination = value · scale.</summary>
        Scale,

        /// <summary>destination = destination + value · scale.</summary>
        Accumulate,
    }

    /// <summary>How many block buffers computing <paramref name="node"/> with <paramref name="combine"/> needs (the
    /// levels <see cref="EvaluationContext.Evaluate"/> uses).</summary>
    private static int ScratchLevels(Node node, Combine combine)
    {
        switch (node)
        {
            case ChunkNode chunk:
                return combine == Combine.Accumulate && !chunk.AllOne ? 1 : 0;
            case ConcatNode concat:
            {
                int levels = 0;
                foreach (Node part in concat.Parts)
                {
                    levels = Math.Max(levels, ScratchLevels(part, combine));
                }
                return levels;
            }
            case WeightedSumNode sum:
            {
                if (combine != Combine.Write)
                {
                    return 1 + ScratchLevels(sum, Combine.Write);
                }
                int levels = ScratchLevels(sum.Parts[0], Combine.Scale);
                for (int k = 1; k < sum.Parts.Count; k++)
                {
                    levels = Math.Max(levels, ScratchLevels(sum.Parts[k], Combine.Accumulate));
                }
                return levels;
            }
            case LerpFromEmptyNode lerp:
                return combine != Combine.Write
                    ? 1 + ScratchLevels(lerp, Combine.Write)
                    : Math.Max(ScratchLevels(lerp.Inner, Combine.Write), 1 + ScratchLevels(lerp.Empty, Combine.Write));
            default:
                throw new InvalidOperationException("unknown node");
        }
    }

    /// <summary>One call of the plan's <c>Evaluate</c>: the plan, the sizes and the block buffers.</summary>
    private readonly struct EvaluationContext(CompelPlan plan, int hidden, int blockFloats, float[]? scratch)
    {
        /// <summary>Tokens [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of a node,
        /// combined into <paramref name="destination"/> as <paramref name="combine"/> says; the block buffers from
        /// <paramref name="level"/> on are free for the node's intermediate values.</summary>
        public void Evaluate(Node node, int start, int count, Span<float> destination, Combine combine, float scale, int level)
        {
            switch (node)
            {
                case ChunkNode chunk:
                    Chunk(chunk, start, count, destination, combine, scale, level);
                    return;
                case ConcatNode concat:
                {
                    // The parts overlapping the range, each over its own share of it.
                    int partStart = 0;
                    int end = start + count;
                    foreach (Node part in concat.Parts)
                    {
                        int partEnd = partStart + part.Tokens;
                        int from = Math.Max(start, partStart);
                        int to = Math.Min(end, partEnd);
                        if (from < to)
                        {
                            Evaluate(part, from - partStart, to - from, destination.Slice((from - start) * hidden, (to - from) * hidden), combine, scale, level);
                        }
                        if (partEnd >= end)
                        {
                            break;
                        }
                        partStart = partEnd;
                    }
                    return;
                }
                case WeightedSumNode sum when combine == Combine.Write:
                    // Σ parts[k]·weights[k], summed from the first part on.
                    Evaluate(sum.Parts[0], start, count, destination, Combine.Scale, sum.Weights[0], level);
                    for (int k = 1; k < sum.Parts.Count; k++)
                    {
                        Evaluate(sum.Parts[k], start, count, destination, Combine.Accumulate, sum.Weights[k], level);
                    }
                    return;
                case LerpFromEmptyNode lerp when combine == Combine.Write:
                {
                    // empty + (inner − empty)·weight.
                    Evaluate(lerp.Inner, start, count, destination, Combine.Write, 1f, level);
                    Span<float> empty = Buffer(level, destination.Length);
                    Evaluate(lerp.Empty, start, count, empty, Combine.Write, 1f, level + 1);
                    TensorPrimitives.Subtract(destination, empty, destination);
                    TensorPrimitives.MultiplyAdd(destination, lerp.Weight, empty, destination);
                    return;
                }
                case WeightedSumNode or LerpFromEmptyNode:
                {
                    Span<float> value = Buffer(level, destination.Length);
                    Evaluate(node, start, count, value, Combine.Write, 1f, level + 1);
                    Apply(value, destination, combine, scale);
                    return;
                }
                default:
                    throw new InvalidOperationException("unknown node");
            }
        }

        /// <summary>build_weighted_embedding_tensor for a range of a chunk: z, or empty + (z − empty)·w for the tokens
        /// weighted w ≠ 1.</summary>
        private void Chunk(ChunkNode chunk, int start, int count, Span<float> destination, Combine combine, float scale, int level)
        {
            ReadOnlySpan<float> z = plan.Batch.Row(chunk.Row).Slice(start * hidden, count * hidden);
            if (chunk.AllOne)
            {
                Apply(z, destination, combine, scale);
                return;
            }
            ReadOnlySpan<float> empty = plan.Batch.Row(plan._emptyRow).Slice(start * hidden, count * hidden);
            ReadOnlySpan<float> weights = chunk.Weights.AsSpan(start, count);
            int p = 0;
            while (p < count)
            {
                float w = weights[p];
                if (w == 1f)
                {
                    // A run of unweighted tokens at once.
                    int run = p + 1;
                    while (run < count && weights[run] == 1f)
                    {
                        run++;
                    }
                    Apply(z.Slice(p * hidden, (run - p) * hidden), destination.Slice(p * hidden, (run - p) * hidden), combine, scale);
                    p = run;
                    continue;
                }
                // empty + (z − empty)·w, each operation rounded to float32 as torch does.
                ReadOnlySpan<float> e = empty.Slice(p * hidden, hidden);
                Span<float> d = destination.Slice(p * hidden, hidden);
                Span<float> value = combine == Combine.Accumulate ? Buffer(level, hidden) : d;
                TensorPrimitives.Subtract(z.Slice(p * hidden, hidden), e, value);
                TensorPrimitives.MultiplyAdd(value, w, e, value);
                if (combine == Combine.Scale)
                {
                    TensorPrimitives.Multiply(d, scale, d);
                }
                else if (combine == Combine.Accumulate)
                {
                    TensorPrimitives.MultiplyAdd(value, scale, d, d);
                }
                p++;
            }
        }

        private Span<float> Buffer(int level, int length) => scratch.AsSpan(level * blockFloats, length);

        private static void Apply(ReadOnlySpan<float> value, Span<float> destination, Combine combine, float scale)
        {
            switch (combine)
            {
                case Combine.Write:
                    value.CopyTo(destination);
                    break;
                case Combine.Scale:
                    TensorPrimitives.Multiply(value, scale, destination);
                    break;
                default:
                    // destination + value·scale, the product rounded first.
                    TensorPrimitives.MultiplyAdd(value, scale, destination, destination);
                    break;
            }
        }
    }
}
