namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>The pipeline components whose ONNX graphs are built from diffusers folders.</summary>
internal enum DiffusersComponentKind
{
    /// <summary>transformers CLIPTextModel (<c>text_encoder/</c>).</summary>
    TextEncoder,

    /// <summary>diffusers UNet2DConditionModel (<c>unet/</c>).</summary>
    UNet,

    /// <summary>The encoder half of diffusers AutoencoderKL (<c>vae/</c>, quant_conv included).</summary>
    VaeEncoder,

    /// <summary>The decoder half of diffusers AutoencoderKL (<c>vae/</c>, post_quant_conv included).</summary>
    VaeDecoder,
}
