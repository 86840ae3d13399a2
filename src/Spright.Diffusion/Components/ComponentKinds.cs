namespace Spright.Diffusion.Components;

/// <summary>Which model components a backend is asked to load.</summary>
[Flags]
public enum ComponentKinds
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary>The text encoder.</summary>
    TextEncoder = 1,

    /// <summary>The UNet.</summary>
    UNet = 2,

    /// <summary>The VAE decoder.</summary>
    VaeDecoder = 4,

    /// <summary>The VAE encoder (image-to-image).</summary>
    VaeEncoder = 8,

    /// <summary>What text-to-image needs.</summary>
    TextToImage = TextEncoder | UNet | VaeDecoder,

    /// <summary>What image-to-image needs.</summary>
    ImageToImage = TextToImage | VaeEncoder,
}
