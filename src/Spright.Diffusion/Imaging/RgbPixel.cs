using System.Runtime.InteropServices;

namespace Spright.Diffusion.Imaging;

/// <summary>One 8-bit RGB pixel, laid out as the three bytes of <see cref="RgbImage.Pixels"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal readonly record struct RgbPixel(byte R, byte G, byte B);
