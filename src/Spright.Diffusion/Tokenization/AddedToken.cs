namespace Spright.Diffusion.Tokenization;

/// <summary>
/// A token matched on the raw prompt before any clean-up, like transformers' <c>AddedToken</c>: CLIP's special tokens
/// (<c>&lt;|startoftext|&gt;</c>, <c>&lt;|endoftext|&gt;</c>, and SD 2.x's pad token <c>!</c>) and any
/// <c>added_tokens_decoder</c> entry.
/// </summary>
/// <param name="Content">The exact text matched (case-sensitive).</param>
/// <param name="Id">Its id.</param>
/// <param name="LStrip">Whether it removes the whitespace on its left.</param>
/// <param name="RStrip">Whether it removes the whitespace on its right.</param>
/// <param name="SingleWord">Whether it only matches as a whole word.</param>
/// <param name="Special">Whether it is one of the special-token attributes (bos, eos, unk, pad, ... and additional special
/// tokens): those are skipped by decoding with <c>skipSpecialTokens</c>, the others are decoded as separate words.</param>
internal sealed record AddedToken(string Content, int Id, bool LStrip, bool RStrip, bool SingleWord, bool Special);
