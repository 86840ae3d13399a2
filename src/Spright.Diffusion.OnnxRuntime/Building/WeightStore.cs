using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Spright.Diffusion.OnnxRuntime.Safetensors;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>How a weight becomes an initializer: referenced in place in its safetensors file (ONNX external data, with
/// Cast / Transpose / Concat nodes that ONNX Runtime folds at load), or written out (inline or into a data file) already
/// converted, transposed and concatenated.</summary>
internal abstract class WeightStore
{
    /// <summary>Adds the initializer for <paramref name="parts"/> (each viewed with <paramref name="partDims"/>, concatenated
    /// along <paramref name="concatAxis"/>, then viewed as <paramref name="reshape"/> when given, then permuted by
    /// <paramref name="perm"/> when given), in <paramref name="target"/>; returns the name of the value holding it.</summary>
    public abstract string Add(OnnxGraph graph, string name, IReadOnlyList<WeightRef> parts, IReadOnlyList<long[]> partDims, int concatAxis,
        long[]? reshape, int[]? perm, OnnxElementType target);

    /// <summary>The dimensions after concatenation, reshape and permutation.</summary>
    public static long[] ResultDims(IReadOnlyList<long[]> partDims, int concatAxis, long[]? reshape, int[]? perm)
    {
        long[] dims = (long[])partDims[0].Clone();
        for (int i = 1; i < partDims.Count; i++)
        {
            dims[concatAxis] += partDims[i][concatAxis];
        }
        if (reshape is not null)
        {
            dims = reshape;
        }
        return perm is null ? dims : perm.Select(p => dims[p]).ToArray();
    }

    /// <summary>The ONNX element type of a safetensors storage type.</summary>
    public static OnnxElementType StorageType(WeightRef weight) => weight.Tensor.DType switch
    {
        SafetensorsDType.F32 => OnnxElementType.Float,
        SafetensorsDType.F16 => OnnxElementType.Float16,
        SafetensorsDType.BF16 => OnnxElementType.BFloat16,
        _ => throw new ModelLoadException(weight.File.Path,
            $"tensor '{weight.Name}' is {SafetensorsDTypes.Name(weight.Tensor.DType)}; the graph builder takes F32, F16 or BF16 weights"),
    };

    /// <summary>Reads a tensor's elements as float32.</summary>
    public static float[] ReadFloats(WeightRef weight, CancellationToken cancellationToken = default)
    {
        SafetensorsTensor t = weight.Tensor;
        var result = new float[t.ElementCount];
        using var stream = new FileStream(weight.File.ResolvedPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16);
        stream.Position = t.FileOffset;
        int elementSize = SafetensorsDTypes.Size(t.DType);
        var buffer = new byte[Math.Min(t.ByteLength, 1 << 22)];
        long done = 0;
        while (done < result.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = (int)Math.Min(buffer.Length / elementSize, result.Length - done);
            Span<byte> chunk = buffer.AsSpan(0, count * elementSize);
            stream.ReadExactly(chunk);
            Decode(chunk, t.DType, result.AsSpan((int)done, count));
            done += count;
        }
        return result;
    }

    /// <summary>Decodes little-endian F32/F16/BF16 bytes into floats.</summary>
    public static void Decode(ReadOnlySpan<byte> bytes, SafetensorsDType dtype, Span<float> destination)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                break;
            case SafetensorsDType.F16:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                }
                break;
            case SafetensorsDType.BF16:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) << 16);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Only F32, F16 and BF16 are decoded.");
        }
    }
}

/// <summary>Weights referenced in place: every part becomes an external-data initializer pointing into its safetensors
/// file (the <c>location</c> is the file name, so the graph must sit beside the file or a hard link to it), followed by
/// the Cast / Concat / Transpose nodes the requested form needs (constant-folded by ONNX Runtime when the session is
/// created). Nothing is copied.</summary>
internal sealed class InPlaceWeightStore : WeightStore
{
    private readonly Dictionary<string, string> _raw = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public override string Add(OnnxGraph graph, string name, IReadOnlyList<WeightRef> parts, IReadOnlyList<long[]> partDims, int concatAxis,
        long[]? reshape, int[]? perm, OnnxElementType target)
    {
        var values = new string[parts.Count];
        for (int i = 0; i < parts.Count; i++)
        {
            WeightRef part = parts[i];
            string key = part.File.ResolvedPath + "|" + part.Name + "|" + string.Join(",", partDims[i]);
            if (!_raw.TryGetValue(key, out string? raw))
            {
                raw = graph.UniqueName(part.Name);
                graph.ExternalInitializer(raw, StorageType(part), partDims[i], part.File.FileName, part.Tensor.FileOffset, part.Tensor.ByteLength);
                _raw[key] = raw;
            }
            values[i] = StorageType(part) == target ? raw : graph.Node("Cast", [raw], OnnxAttribute.Int("to", (int)target));
        }
        string value = values.Length == 1 ? values[0] : graph.Node("Concat", values, OnnxAttribute.Int("axis", concatAxis));
        if (reshape is not null)
        {
            value = graph.Node("Reshape", [value, graph.Int64s(reshape)]);
        }
        return perm is null ? value : graph.Node("Transpose", [value], OnnxAttribute.Ints("perm", perm.Select(p => (long)p).ToArray()));
    }
}

/// <summary>Weights written out with the model: converted, concatenated and transposed while streaming from the
/// safetensors files, either inline in the model (raw_data) or, with <see cref="DataFile"/> set, appended to one external
/// data file (<c>model.onnx_data</c> as optimum writes it for graphs over 2 GB).</summary>
internal sealed class WrittenWeightStore : WeightStore
{
    /// <summary>Creates a store writing inline (<paramref name="dataFileName"/> null) or into a data file.</summary>
    public WrittenWeightStore(string? dataFileName)
    {
        DataFileName = dataFileName;
    }

    /// <summary>The external data file name (relative to the model), or null for inline weights.</summary>
    public string? DataFileName { get; }

    /// <summary>The segments of the data file, in order (empty for inline weights).</summary>
    public List<ProtoSegment> DataFile { get; } = [];

    /// <summary>Bytes appended to the data file so far.</summary>
    public long DataLength { get; private set; }

    /// <inheritdoc />
    public override string Add(OnnxGraph graph, string name, IReadOnlyList<WeightRef> parts, IReadOnlyList<long[]> partDims, int concatAxis,
        long[]? reshape, int[]? perm, OnnxElementType target)
    {
        foreach (WeightRef part in parts)
        {
            _ = StorageType(part); // refuses integer weights with a clear message
        }
        long[] dims = ResultDims(partDims, concatAxis, reshape, perm);
        long count = 1;
        foreach (long d in dims)
        {
            count *= d;
        }
        long length = count * OnnxElementTypes.Size(target);
        var segment = new ProtoSegment(length, (stream, ct) => WriteData(stream, parts, partDims, concatAxis, reshape, perm, target, ct));
        string initializer = graph.UniqueName(name);
        if (DataFileName is null)
        {
            graph.StreamedInitializer(initializer, target, dims, segment);
        }
        else
        {
            // Keep every tensor 64-byte aligned in the data file.
            long padding = (64 - (DataLength % 64)) % 64;
            if (padding > 0)
            {
                DataFile.Add(new ProtoSegment(padding, (stream, _) => stream.Write(new byte[padding])));
                DataLength += padding;
            }
            graph.ExternalInitializer(initializer, target, dims, DataFileName, DataLength, length);
            DataFile.Add(segment);
            DataLength += length;
        }
        return initializer;
    }

    private static void WriteData(Stream stream, IReadOnlyList<WeightRef> parts, IReadOnlyList<long[]> partDims, int axis, long[]? reshape, int[]? perm,
        OnnxElementType target, CancellationToken ct)
    {
        if (parts.Count == 1 && perm is null)
        {
            // A reshape does not move data: stream (and convert) the bytes as stored.
            if (StorageType(parts[0]) == target)
            {
                CopyRange(stream, parts[0], ct);
            }
            else
            {
                ConvertStreaming(stream, parts[0], target, ct);
            }
            return;
        }
        // Concatenation and permutation: assemble the whole tensor (one Linear / Conv weight at a time).
        float[][] values = parts.Select(p => ReadFloats(p, ct)).ToArray();
        float[] joined = Concat(values, partDims, axis);
        if (perm is not null)
        {
            joined = Permute(joined, ResultDims(partDims, axis, reshape, null), perm);
        }
        stream.Write(OnnxGraph.FloatBytes(joined, target));
    }

    private static float[] Concat(float[][] values, IReadOnlyList<long[]> partDims, int axis)
    {
        if (values.Length == 1)
        {
            return values[0];
        }
        long outer = 1;
        for (int d = 0; d < axis; d++)
        {
            outer *= partDims[0][d];
        }
        var result = new float[values.Sum(v => (long)v.Length)];
        long offset = 0;
        for (long o = 0; o < outer; o++)
        {
            for (int p = 0; p < values.Length; p++)
            {
                long inner = values[p].Length / outer;
                Array.Copy(values[p], o * inner, result, offset, inner);
                offset += inner;
            }
        }
        return result;
    }

    /// <summary>A row-major tensor of <paramref name="dims"/> with its axes permuted (numpy transpose).</summary>
    internal static float[] Permute(float[] values, long[] dims, int[] perm)
    {
        int rank = dims.Length;
        var outDims = perm.Select(p => dims[p]).ToArray();
        var inStrides = new long[rank];
        long stride = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            inStrides[d] = stride;
            stride *= dims[d];
        }
        // Walk the output in order; the input index advances by the permuted strides.
        var step = perm.Select(p => inStrides[p]).ToArray();
        var result = new float[values.Length];
        var index = new long[rank];
        long source = 0;
        for (long i = 0; i < result.Length; i++)
        {
            result[i] = values[source];
            for (int d = rank - 1; d >= 0; d--)
            {
                index[d]++;
                source += step[d];
                if (index[d] < outDims[d])
                {
                    break;
                }
                source -= step[d] * outDims[d];
                index[d] = 0;
            }
        }
        return result;
    }

    private static void CopyRange(Stream destination, WeightRef weight, CancellationToken ct)
    {
        using var source = new FileStream(weight.File.ResolvedPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16);
        source.Position = weight.Tensor.FileOffset;
        var buffer = new byte[1 << 20];
        long left = weight.Tensor.ByteLength;
        while (left > 0)
        {
            ct.ThrowIfCancellationRequested();
            int n = source.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n <= 0)
            {
                throw new ModelLoadException(weight.File.Path, $"tensor '{weight.Name}': the file ended early (it changed after its header was read)");
            }
            destination.Write(buffer, 0, n);
            left -= n;
        }
    }

    private static void ConvertStreaming(Stream destination, WeightRef weight, OnnxElementType target, CancellationToken ct)
    {
        SafetensorsTensor t = weight.Tensor;
        int elementSize = SafetensorsDTypes.Size(t.DType);
        using var source = new FileStream(weight.File.ResolvedPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16);
        source.Position = t.FileOffset;
        const int Chunk = 1 << 18;
        var bytes = new byte[Chunk * elementSize];
        var floats = new float[Chunk];
        long left = t.ElementCount;
        while (left > 0)
        {
            ct.ThrowIfCancellationRequested();
            int count = (int)Math.Min(Chunk, left);
            source.ReadExactly(bytes.AsSpan(0, count * elementSize));
            Decode(bytes.AsSpan(0, count * elementSize), t.DType, floats.AsSpan(0, count));
            destination.Write(OnnxGraph.FloatBytes(floats.AsSpan(0, count), target));
            left -= count;
        }
    }
}
