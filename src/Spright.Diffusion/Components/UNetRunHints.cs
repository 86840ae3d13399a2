namespace Spright.Diffusion.Components;

/// <summary>What the pipeline tells a UNet runner about an evaluation.</summary>
[Flags]
public enum UNetRunHints
{
    /// <summary>Nothing special.</summary>
    None = 0,

    /// <summary>The last evaluation of a denoising loop: the runner may hand its scratch memory back afterwards, so the
    /// VAE decoder does not run on top of it.</summary>
    LastOfLoop = 1,
}
