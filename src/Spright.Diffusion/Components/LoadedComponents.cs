namespace Spright.Diffusion.Components;

/// <summary>The components a backend loaded (those that were asked for); disposing it disposes them.</summary>
public sealed class LoadedComponents : IDisposable
{
    private int _disposed;

    /// <summary>Takes ownership of the loaded components.</summary>
    /// <param name="textEncoder">The text encoder, if loaded.</param>
    /// <param name="unet">The UNet, if loaded.</param>
    /// <param name="vaeDecoder">The VAE decoder, if loaded.</param>
    /// <param name="vaeEncoder">The VAE encoder, if loaded.</param>
    public LoadedComponents(ITextEncoder? textEncoder, IUNet? unet, IVaeDecoder? vaeDecoder, IVaeEncoder? vaeEncoder)
    {
        TextEncoder = textEncoder;
        Unet = unet;
        VaeDecoder = vaeDecoder;
        VaeEncoder = vaeEncoder;
    }

    /// <summary>The text encoder, if loaded.</summary>
    public ITextEncoder? TextEncoder { get; }

    /// <summary>The UNet, if loaded.</summary>
    public IUNet? Unet { get; }

    /// <summary>The VAE decoder, if loaded.</summary>
    public IVaeDecoder? VaeDecoder { get; }

    /// <summary>The VAE encoder, if loaded.</summary>
    public IVaeEncoder? VaeEncoder { get; }

    /// <summary>Disposes every component. Safe to call twice.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        TextEncoder?.Dispose();
        Unet?.Dispose();
        VaeDecoder?.Dispose();
        VaeEncoder?.Dispose();
    }
}
