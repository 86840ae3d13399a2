using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;

namespace Spright.Diffusion.Tests.Infrastructure;

/// <summary>A NumPy .npy array read from disk: shape plus data as float32, float64 or int64.</summary>
internal sealed class NpyArray
{
    public required int[] Shape { get; init; }
    public required string Descr { get; init; }
    public float[]? Float32 { get; init; }
    public double[]? Float64 { get; init; }
    public long[]? Int64 { get; init; }
    public int[]? Int32 { get; init; }

    public int Count => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>The data widened/narrowed to float32 (int64 and float64 converted).</summary>
    public float[] AsFloat32() =>
        Float32 ?? Float64?.Select(d => (float)d).ToArray() ?? Int64?.Select(l => (float)l).ToArray()
        ?? Int32!.Select(i => (float)i).ToArray();

    public double[] AsFloat64() =>
        Float64 ?? Float32?.Select(f => (double)f).ToArray() ?? Int64?.Select(l => (double)l).ToArray()
        ?? Int32!.Select(i => (double)i).ToArray();

    public long[] AsInt64() =>
        Int64 ?? Int32?.Select(i => (long)i).ToArray() ?? throw new InvalidOperationException($"Array is {Descr}, not integer.");

    /// <summary>Slice along the first axis.</summary>
    public float[] Row(int index)
    {
        int inner = Count / Shape[0];
        return AsFloat32().AsSpan(index * inner, inner).ToArray();
    }
}

/// <summary>Minimal reader for NumPy format 1.0/2.0 little-endian C-order files (&lt;f4, &lt;f8, &lt;i8, &lt;i4).</summary>
internal static class Npy
{
    public static NpyArray Load(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
        {
            throw new InvalidDataException($"{path}: not a .npy file");
        }
        int major = bytes[6];
        int headerLen;
        int offset;
        if (major == 1)
        {
            headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            offset = 10;
        }
        else
        {
            headerLen = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            offset = 12;
        }
        string header = Encoding.Latin1.GetString(bytes, offset, headerLen);
        string descr = Regex.Match(header, @"'descr':\s*'([^']+)'").Groups[1].Value;
        bool fortran = Regex.Match(header, @"'fortran_order':\s*(True|False)").Groups[1].Value == "True";
        if (fortran)
        {
            throw new InvalidDataException($"{path}: fortran order not supported");
        }
        string shapeText = Regex.Match(header, @"'shape':\s*\(([^)]*)\)").Groups[1].Value;
        int[] shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        int count = shape.Aggregate(1, (a, b) => a * b);
        ReadOnlySpan<byte> data = bytes.AsSpan(offset + headerLen);
        switch (descr)
        {
            case "<f4":
                {
                    var values = new float[count];
                    for (int i = 0; i < count; i++)
                    {
                        values[i] = BinaryPrimitives.ReadSingleLittleEndian(data.Slice(i * 4));
                    }

                    return new NpyArray { Shape = shape, Descr = descr, Float32 = values };
                }
            case "<f8":
                {
                    var values = new double[count];
                    for (int i = 0; i < count; i++)
                    {
                        values[i] = BinaryPrimitives.ReadDoubleLittleEndian(data.Slice(i * 8));
                    }

                    return new NpyArray { Shape = shape, Descr = descr, Float64 = values };
                }
            case "<i8":
                {
                    var values = new long[count];
                    for (int i = 0; i < count; i++)
                    {
                        values[i] = BinaryPrimitives.ReadInt64LittleEndian(data.Slice(i * 8));
                    }

                    return new NpyArray { Shape = shape, Descr = descr, Int64 = values };
                }
            case "<i4":
                {
                    var values = new int[count];
                    for (int i = 0; i < count; i++)
                    {
                        values[i] = BinaryPrimitives.ReadInt32LittleEndian(data.Slice(i * 4));
                    }

                    return new NpyArray { Shape = shape, Descr = descr, Int32 = values };
                }
            default:
                throw new InvalidDataException($"{path}: unsupported dtype {descr}");
        }
    }
}
