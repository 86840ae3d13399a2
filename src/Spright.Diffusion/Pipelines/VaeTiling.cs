using System.Numerics.Tensors;
using Spright.Diffusion.Components;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Pipelines;

/// <summary>
/// diffusers' <c>AutoencoderKL</c> slicing and tiling (v0.31 <c>autoencoder_kl.py</c>: <c>decode</c>/<c>tiled_decode</c>,
/// <c>encode</c>/<c>_tiled_encode</c>, <c>blend_v</c>/<c>blend_h</c>), with the same numbers. Tiles are
/// <c>vae.config.sample_size</c> pixels (latent tiles that size over the VAE scale factor), overlapping by a quarter;
/// each tile is blended in place with the finished tile above it and then the one to its left, over the blend extent,
/// then cropped and placed. Only the previous row of tiles is kept, so memory stays bounded by the tile size plus the
/// output. Tiling runs only when the input is larger than one tile, as diffusers decides; slicing runs the items of a
/// batch one at a time.
/// </summary>
internal static class VaeTiling
{
    /// <summary>The tile side in pixels when the VAE's folder gives no <c>sample_size</c> (legacy exports).</summary>
    public const int DefaultTileSize = 512;

    private const double OverlapFactor = 0.25;

    /// <summary>Decodes latents (already divided by the scaling factor) with the call's slicing and tiling.</summary>
    public static Tensor<float> Decode(IVaeDecoder decoder, Tensor<float> latents, VaeSettings settings, IProgress<VaeTileProgress>? progress,
        CancellationToken cancellationToken)
    {
        (int tileSample, int tileLatent) = TileSizes(decoder.Info);
        var counter = new TileCounter(progress, encoding: false, tileLatent);
        return Run(latents, settings, counter,
            x => x.Lengths[2] > tileLatent || x.Lengths[3] > tileLatent,
            x => decoder.Decode(x, cancellationToken),
            x => Tiled(x, tileLatent, tileSample, t => decoder.Decode(t, cancellationToken), counter, cancellationToken), cancellationToken);
    }

    /// <summary>Encodes images with the call's slicing and tiling (diffusers' <c>vae.encode</c>).</summary>
    public static Tensor<float> Encode(IVaeEncoder encoder, Tensor<float> images, VaeSettings settings, IProgress<VaeTileProgress>? progress,
        CancellationToken cancellationToken)
    {
        (int tileSample, int tileLatent) = TileSizes(encoder.Info);
        var counter = new TileCounter(progress, encoding: true, tileSample);
        return Run(images, settings, counter,
            x => x.Lengths[3] > tileSample || x.Lengths[2] > tileSample,
            x => encoder.Encode(x, cancellationToken),
            x => Tiled(x, tileSample, tileLatent, t => encoder.Encode(t, cancellationToken), counter, cancellationToken), cancellationToken);
    }

    /// <summary>The pixel and latent tile sides of a VAE.</summary>
    public static (int Sample, int Latent) TileSizes(VaeInfo info)
    {
        int sample = info.SampleSize ?? DefaultTileSize;
        return (sample, sample / info.ScaleFactor);
    }

    private static Tensor<float> Run(Tensor<float> input, VaeSettings settings, TileCounter counter,
        Func<Tensor<float>, bool> needsTiling, Func<Tensor<float>, Tensor<float>> whole, Func<Tensor<float>, Tensor<float>> tiled, CancellationToken cancellationToken)
    {
        int batch = (int)input.Lengths[0];
        if (settings.Tiling && needsTiling(input))
        {
            counter.Expect((int)input.Lengths[2], (int)input.Lengths[3], settings.Slicing ? batch : 1);
        }
        Func<Tensor<float>, Tensor<float>> one = x => settings.Tiling && needsTiling(x) ? tiled(x) : whole(x);
        if (!settings.Slicing || batch <= 1)
        {
            return one(input);
        }
        int[] shape = input.Shape();
        int per = shape[1] * shape[2] * shape[3];
        float[]? result = null;
        int[] outShape = [];
        int outPer = 0;
        for (int b = 0; b < batch; b++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Tensor<float> item = TensorShapes.Wrap(input.AsSpan().Slice(b * per, per).ToArray(), 1, shape[1], shape[2], shape[3]);
            Tensor<float> output = one(item);
            if (result is null)
            {
                int[] s = output.Shape();
                outShape = [batch, s[1], s[2], s[3]];
                outPer = s[1] * s[2] * s[3];
                result = new float[checked(outPer * batch)];
            }
            output.AsSpan().CopyTo(result.AsSpan(b * outPer, outPer));
        }
        return TensorShapes.Wrap(result!, outShape);
    }

    /// <summary>
    /// The tiling loop of <c>tiled_decode</c> / <c>_tiled_encode</c>: input tiles of <paramref name="inTile"/> (stride
    /// ¾ of it), outputs blended over ¼ of <paramref name="outTile"/> and cropped to the rest.
    /// </summary>
    private static Tensor<float> Tiled(Tensor<float> input, int inTile, int outTile, Func<Tensor<float>, Tensor<float>> run, TileCounter counter,
        CancellationToken cancellationToken)
    {
        int[] s = input.Shape();
        int batch = s[0], channels = s[1], height = s[2], width = s[3];
        int stride = (int)(inTile * (1 - OverlapFactor));
        int blend = (int)(outTile * OverlapFactor);
        int limit = outTile - blend;
        if (stride < 1 || limit < 1)
        {
            throw new InvalidOperationException($"The VAE's tile of {inTile} is too small to tile with.");
        }
        ReadOnlySpan<float> source = input.AsSpan();
        Tile[]? previousRow = null;
        float[]? result = null;
        int outChannels = 0, outHeight = 0, outWidth = 0;
        int y0 = 0;
        for (int i = 0; i < height; i += stride)
        {
            int rows = Math.Min(inTile, height - i);
            var row = new List<Tile>();
            int x0 = 0;
            int rowHeight = 0;
            for (int j = 0; j < width; j += stride)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int cols = Math.Min(inTile, width - j);
                Tile tile = Tile.From(run(Crop(source, batch, channels, height, width, i, j, rows, cols)));
                counter.Done();
                if (previousRow is not null)
                {
                    BlendVertical(previousRow[row.Count], tile, blend);
                }
                if (row.Count > 0)
                {
                    BlendHorizontal(row[^1], tile, blend);
                }
                row.Add(tile);
                if (result is null)
                {
                    // The output is as large as the sum of the cropped tiles: the input size times the tile ratio.
                    outChannels = tile.Channels;
                    outHeight = OutputExtent(height, stride, inTile, outTile, limit);
                    outWidth = OutputExtent(width, stride, inTile, outTile, limit);
                    result = new float[checked(batch * outChannels * outHeight * outWidth)];
                }
                int keepH = Math.Min(limit, tile.Height), keepW = Math.Min(limit, tile.Width);
                tile.CopyTo(result, batch, outHeight, outWidth, y0, x0, keepH, keepW);
                x0 += keepW;
                rowHeight = keepH;
            }
            y0 += rowHeight;
            previousRow = [.. row];
        }
        return TensorShapes.Wrap(result!, batch, outChannels, outHeight, outWidth);
    }

    /// <summary>How long the output is along an axis: the cropped extents of the tiles that start on it.</summary>
    private static int OutputExtent(int length, int stride, int inTile, int outTile, int limit)
    {
        int total = 0;
        for (int start = 0; start < length; start += stride)
        {
            int tileIn = Math.Min(inTile, length - start);
            int tileOut = tileIn * outTile / inTile;
            total += Math.Min(limit, tileOut);
        }
        return total;
    }

    private static Tensor<float> Crop(ReadOnlySpan<float> source, int batch, int channels, int height, int width, int top, int left, int rows, int cols)
    {
        var data = new float[checked(batch * channels * rows * cols)];
        int at = 0;
        for (int bc = 0; bc < batch * channels; bc++)
        {
            for (int y = 0; y < rows; y++)
            {
                source.Slice((((bc * height) + top + y) * width) + left, cols).CopyTo(data.AsSpan(at, cols));
                at += cols;
            }
        }
        return TensorShapes.Wrap(data, batch, channels, rows, cols);
    }

    /// <summary><c>blend_v(above, tile, extent)</c>: the first rows of <paramref name="tile"/> fade in from the last rows of
    /// <paramref name="above"/>, in place, with torch's float32 roundings (two products, then their sum).</summary>
    private static void BlendVertical(Tile above, Tile tile, int blendExtent)
    {
        int extent = Math.Min(Math.Min(above.Height, tile.Height), blendExtent);
        int width = Math.Min(above.Width, tile.Width);
        for (int y = 0; y < extent; y++)
        {
            (float keep, float take) = Weights(y, extent);
            for (int p = 0; p < tile.Planes; p++)
            {
                Span<float> b = tile.Row(p, y)[..width];
                ReadOnlySpan<float> a = above.Row(p, above.Height - extent + y)[..width];
                for (int x = 0; x < b.Length; x++)
                {
                    float fromA = a[x] * keep;
                    float fromB = b[x] * take;
                    b[x] = fromA + fromB;
                }
            }
        }
    }

    /// <summary><c>blend_h(left, tile, extent)</c>: the first columns of <paramref name="tile"/> fade in from the last
    /// columns of <paramref name="left"/>, in place.</summary>
    private static void BlendHorizontal(Tile left, Tile tile, int blendExtent)
    {
        int extent = Math.Min(Math.Min(left.Width, tile.Width), blendExtent);
        int height = Math.Min(left.Height, tile.Height);
        for (int p = 0; p < tile.Planes; p++)
        {
            for (int y = 0; y < height; y++)
            {
                Span<float> b = tile.Row(p, y);
                ReadOnlySpan<float> a = left.Row(p, y);
                for (int x = 0; x < extent; x++)
                {
                    (float keep, float take) = Weights(x, extent);
                    float fromA = a[left.Width - extent + x] * keep;
                    float fromB = b[x] * take;
                    b[x] = fromA + fromB;
                }
            }
        }
    }

    /// <summary>The blend weights <c>1 − y/extent</c> and <c>y/extent</c>: Python floats that torch casts to float32.</summary>
    private static (float Keep, float Take) Weights(int y, int extent)
    {
        double t = (double)y / extent;
        return ((float)(1 - t), (float)t);
    }

    /// <summary>Counts finished tiles over every tiled run of one decode (slices included) and reports them.</summary>
    private sealed class TileCounter(IProgress<VaeTileProgress>? progress, bool encoding, int inTile)
    {
        private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();
        private int _done;
        private int _total;

        /// <summary>The tiles of <paramref name="runs"/> tiled runs over an input of <paramref name="height"/>×<paramref name="width"/>.</summary>
        public void Expect(int height, int width, int runs)
        {
            int stride = Math.Max(1, (int)(inTile * (1 - OverlapFactor)));
            _total = ((height + stride - 1) / stride) * ((width + stride - 1) / stride) * runs;
        }

        public void Done() => progress?.Report(new VaeTileProgress(++_done, _total, encoding, System.Diagnostics.Stopwatch.GetElapsedTime(_start)));
    }

    /// <summary>One decoded (or encoded) tile: [batch, channels, height, width] floats.</summary>
    private sealed class Tile
    {
        private readonly float[] _data;

        private Tile(float[] data, int batch, int channels, int height, int width)
        {
            _data = data;
            Batch = batch;
            Channels = channels;
            Height = height;
            Width = width;
        }

        public int Batch { get; }

        public int Channels { get; }

        public int Height { get; }

        public int Width { get; }

        /// <summary>Batch × channels.</summary>
        public int Planes => Batch * Channels;

        public static Tile From(Tensor<float> tensor)
        {
            int[] s = tensor.Shape();
            return new Tile(tensor.AsSpan().ToArray(), s[0], s[1], s[2], s[3]);
        }

        public Span<float> Row(int plane, int y) => _data.AsSpan(((plane * Height) + y) * Width, Width);

        /// <summary>Copies the top-left <paramref name="rows"/>×<paramref name="cols"/> of every plane into the output at
        /// (<paramref name="top"/>, <paramref name="left"/>).</summary>
        public void CopyTo(float[] output, int batch, int outHeight, int outWidth, int top, int left, int rows, int cols)
        {
            for (int p = 0; p < batch * Channels; p++)
            {
                for (int y = 0; y < rows; y++)
                {
                    Row(p, y)[..cols].CopyTo(output.AsSpan((((p * outHeight) + top + y) * outWidth) + left, cols));
                }
            }
        }
    }
}
