namespace Spright.Diffusion.Imaging;

/// <summary>
/// Pillow's <c>Image.resize(..., resample=LANCZOS)</c> for 8-bit RGB, reproduced exactly (Pillow's
/// <c>libImaging/Resample.c</c>: separable two-pass convolution, a = 3 Lanczos window widened when downscaling,
/// 22-bit fixed-point coefficients, rounding to 8 bits between the passes). diffusers' <c>VaeImageProcessor</c>
/// resizes image-to-image inputs this way, so matching it keeps the latents identical.
/// </summary>
internal static class PillowResampler
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const double LanczosSupport = 3.0;

    /// <summary>Resizes <paramref name="pixels"/> (row-major, <paramref name="width"/>×<paramref name="height"/>) to the new size.</summary>
    public static RgbPixel[] ResizeLanczos(ReadOnlySpan<RgbPixel> pixels, int width, int height, int newWidth, int newHeight)
    {
        if (pixels.Length != width * height)
        {
            throw new ArgumentException("Pixel count does not match the size.", nameof(pixels));
        }
        bool needHorizontal = newWidth != width;
        bool needVertical = newHeight != height;
        (int[] boundsH, int[] kkH, int ksizeH) = Coefficients(width, 0, width, newWidth);
        (int[] boundsV, int[] kkV, int ksizeV) = Coefficients(height, 0, height, newHeight);

        RgbPixel[] current = pixels.ToArray();
        int curWidth = width, curHeight = height;
        if (needHorizontal)
        {
            int yFirst = boundsV[0];
            int yLast = boundsV[(newHeight * 2) - 2] + boundsV[(newHeight * 2) - 1];
            for (int i = 0; i < newHeight; i++)
            {
                boundsV[i * 2] -= yFirst;
            }
            int rows = yLast - yFirst;
            var temp = new RgbPixel[newWidth * rows];
            for (int y = 0; y < rows; y++)
            {
                int srcRow = (y + yFirst) * curWidth;
                for (int x = 0; x < newWidth; x++)
                {
                    int xmin = boundsH[x * 2], xmax = boundsH[(x * 2) + 1];
                    int k = x * ksizeH;
                    int r = 1 << (PrecisionBits - 1), g = r, b = r;
                    for (int i = 0; i < xmax; i++)
                    {
                        RgbPixel p = current[srcRow + xmin + i];
                        int c = kkH[k + i];
                        r += p.R * c;
                        g += p.G * c;
                        b += p.B * c;
                    }
                    temp[(y * newWidth) + x] = new RgbPixel(Clip8(r), Clip8(g), Clip8(b));
                }
            }
            current = temp;
            curWidth = newWidth;
            curHeight = rows;
        }
        if (needVertical)
        {
            var output = new RgbPixel[curWidth * newHeight];
            for (int y = 0; y < newHeight; y++)
            {
                int ymin = boundsV[y * 2], ymax = boundsV[(y * 2) + 1];
                int k = y * ksizeV;
                for (int x = 0; x < curWidth; x++)
                {
                    int r = 1 << (PrecisionBits - 1), g = r, b = r;
                    for (int i = 0; i < ymax; i++)
                    {
                        RgbPixel p = current[((ymin + i) * curWidth) + x];
                        int c = kkV[k + i];
                        r += p.R * c;
                        g += p.G * c;
                        b += p.B * c;
                    }
                    output[(y * curWidth) + x] = new RgbPixel(Clip8(r), Clip8(g), Clip8(b));
                }
            }
            current = output;
        }
        _ = curHeight;
        return current;
    }

    private static byte Clip8(int value)
    {
        int v = value >> PrecisionBits;
        return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
    }

    private static double Lanczos(double x) => x >= -LanczosSupport && x < LanczosSupport ? Sinc(x) * Sinc(x / 3.0) : 0.0;

    private static double Sinc(double x)
    {
        if (x == 0.0)
        {
            return 1.0;
        }
        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    /// <summary>Pillow's <c>precompute_coeffs</c> followed by <c>normalize_coeffs_8bpc</c>.</summary>
    private static (int[] Bounds, int[] Coefficients, int KSize) Coefficients(int inSize, float in0, float in1, int outSize)
    {
        double scale = (double)(in1 - in0) / outSize;
        double filterScale = scale < 1.0 ? 1.0 : scale;
        double support = LanczosSupport * filterScale;
        int ksize = ((int)Math.Ceiling(support) * 2) + 1;
        var bounds = new int[outSize * 2];
        var kk = new double[outSize * ksize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = in0 + ((xx + 0.5) * scale);
            double ww = 0.0;
            double ss = 1.0 / filterScale;
            int xmin = (int)(center - support + 0.5);
            if (xmin < 0)
            {
                xmin = 0;
            }
            int xmax = (int)(center + support + 0.5);
            if (xmax > inSize)
            {
                xmax = inSize;
            }
            xmax -= xmin;
            int k = xx * ksize;
            for (int x = 0; x < xmax; x++)
            {
                double w = Lanczos((x + xmin - center + 0.5) * ss);
                kk[k + x] = w;
                ww += w;
            }
            for (int x = 0; x < xmax; x++)
            {
                if (ww != 0.0)
                {
                    kk[k + x] /= ww;
                }
            }
            bounds[xx * 2] = xmin;
            bounds[(xx * 2) + 1] = xmax;
        }
        var fixedPoint = new int[kk.Length];
        for (int i = 0; i < kk.Length; i++)
        {
            fixedPoint[i] = kk[i] < 0
                ? (int)(-0.5 + (kk[i] * (1 << PrecisionBits)))
                : (int)(0.5 + (kk[i] * (1 << PrecisionBits)));
        }
        return (bounds, fixedPoint, ksize);
    }
}
