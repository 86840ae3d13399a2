namespace Spright.Diffusion.Prompts;

/// <summary>How a prompt's text becomes the text-encoder states the UNet receives.</summary>
public enum PromptWeighting
{
    /// <summary>diffusers' default: no syntax, truncated to the tokenizer's <c>model_max_length</c> (the cut-off text
    /// is logged as diffusers logs it).</summary>
    None = 0,

    /// <summary>AUTOMATIC1111's attention syntax as diffusers' community <c>lpw_stable_diffusion</c> pipeline reads it
    /// (<c>(word)</c>, <c>[word]</c>, <c>(word:1.3)</c>), with prompts longer than 77 tokens encoded in chunks.</summary>
    Lpw = 1,

    /// <summary>compel 2.2.1's syntax (<c>word+</c>, <c>word-</c>, <c>(words)1.3</c>, <c>.blend()</c>, <c>.and()</c>).</summary>
    Compel = 2,
}
