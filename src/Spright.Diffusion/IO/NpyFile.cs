using System.Buffers.Binary;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text;
using System.Text.RegularExpressions;

using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.IO;

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files (format 1.0, little-endian float32, C order) — what diffusers users
/// compare outputs with. Writes go to a temporary file that is moved into place, so a failed write leaves nothing.
/// </summary>
internal static partial class NpyFile
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes a float32 tensor as <c>.npy</c>, through a temporary file moved into place (see <see cref="AtomicFile"/>).</summary>
    /// <param name="path">The destination file.</param>
    /// <param name="tensor">The tensor.</param>
    public static void Save(string path, Tensor<float> tensor)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(tensor);
        AtomicFile.Write(path, stream => Write(stream, tensor));
    }

    /// <summary>Writes a float32 tensor in <c>.npy</c> format to a stream (e.g. one of <see cref="AtomicFile.WriteAll"/>).</summary>
    /// <param name="stream">The destination stream.</param>
    /// <param name="tensor">The tensor.</param>
    public static void Write(Stream stream, Tensor<float> tensor)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensor);
        int[] shape = tensor.Shape();
        string shapeText = shape.Length == 1
            ? $"({shape[0]},)"
            : "(" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")";
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shapeText}, }}";
        int total = Magic.Length + 4 + header.Length + 1;
        int padding = (64 - (total % 64)) % 64;
        header = header + new string(' ', padding) + "\n";

        stream.Write(Magic);
        stream.WriteByte(1);
        stream.WriteByte(0);
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        stream.Write(len);
        stream.Write(Encoding.ASCII.GetBytes(header));
        ReadOnlySpan<float> data = tensor.IsDense ? tensor.AsSpan() : tensor.CloneDense().AsSpan();
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        }
        else
        {
            byte[] buffer = new byte[4];
            foreach (float f in data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer, f);
                stream.Write(buffer);
            }
        }
    }

    /// <summary>Reads a little-endian float32 (<c>&lt;f4</c>) C-order <c>.npy</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The tensor.</returns>
    public static Tensor<float> Load(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{path}: not a .npy file.");
        }
        int headerLength = bytes[6] == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) : (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        int offset = bytes[6] == 1 ? 10 : 12;
        string header = Encoding.Latin1.GetString(bytes, offset, headerLength);
        if (!header.Contains("'<f4'", StringComparison.Ordinal) || header.Contains("'fortran_order': True", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: only little-endian float32 C-order arrays are supported.");
        }
        Match m = ShapeRegex().Match(header);
        int[] shape = m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int count = TensorShapes.ElementCount(shape, nameof(path));
        int start = offset + headerLength;
        if (bytes.Length - start < count * 4)
        {
            throw new InvalidDataException($"{path}: truncated data.");
        }
        var data = new float[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(start + (i * 4)));
        }
        return TensorShapes.Wrap(data, shape);
    }

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}
