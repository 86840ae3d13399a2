namespace Spright.Diffusion;

/// <summary>The precision components compute in (diffusers' <c>torch_dtype</c>).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "torch's dtype names, on purpose.")]
public enum Dtype
{
    /// <summary>float32 (diffusers' default).</summary>
    Float32,

    /// <summary>float16 (<c>torch.float16</c>): half the memory; the configuration for GPUs. Parts diffusers keeps in
    /// float32 stay float32 (timestep embedding, upcast attention, a VAE marked <c>force_upcast</c>).</summary>
    Float16,
}
