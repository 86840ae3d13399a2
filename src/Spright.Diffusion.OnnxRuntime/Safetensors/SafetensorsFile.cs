using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Spright.Diffusion.OnnxRuntime.Safetensors;

/// <summary>
/// The header of a safetensors file, read and validated before anything trusts it: the 8-byte header length is bounded
/// by the file and by <see cref="MaxHeaderBytes"/>, the header is a JSON object of tensors (plus an optional
/// <c>__metadata__</c> object of strings), every dtype is one the format defines, shapes are non-negative, every
/// tensor's byte span is exactly element count × element size, lies inside the file's data section and overlaps no
/// other. A file that breaks any rule raises a one-line <see cref="ModelLoadException"/> naming the file and the tensor.
/// </summary>
internal sealed class SafetensorsFile
{
    /// <summary>The largest header accepted (the safetensors library's own limit is 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const int MaxTensors = 1_000_000;
    private const int MaxRank = 16;

    private readonly Dictionary<string, SafetensorsTensor> _tensors;

    private SafetensorsFile(string path, long fileLength, long headerLength, byte[] headerSha256,
        Dictionary<string, SafetensorsTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        FileLength = fileLength;
        HeaderLength = headerLength;
        HeaderSha256 = headerSha256;
        _tensors = tensors;
        Metadata = metadata;
        Tensors = tensors.Values.OrderBy(t => t.FileOffset).ThenBy(t => t.Name, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The file as given to <see cref="Read(string)"/>.</summary>
    public string Path { get; }

    /// <summary>The file's length when read.</summary>
    public long FileLength { get; }

    /// <summary>The JSON header's length (the first 8 bytes of the file).</summary>
    public long HeaderLength { get; }

    /// <summary>SHA-256 of the 8 length bytes and the header: identifies the file's layout cheaply.</summary>
    public byte[] HeaderSha256 { get; }

    /// <summary>The tensors in file order.</summary>
    public IReadOnlyList<SafetensorsTensor> Tensors { get; }

    /// <summary>The <c>__metadata__</c> entries (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor called <paramref name="name"/>, or <see langword="null"/>.</summary>
    public SafetensorsTensor? Find(string name) => _tensors.GetValueOrDefault(name);

    /// <summary>Whether the file has a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>Reads and validates the header of <paramref name="path"/> (the data is not read).</summary>
    /// <exception cref="ModelLoadException">The file is missing, unreadable, truncated or its header is invalid.</exception>
    public static SafetensorsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
            return Read(path, stream);
        }
        catch (FileNotFoundException ex)
        {
            throw new ModelLoadException(path, "safetensors file not found", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new ModelLoadException(path, "safetensors file not found", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(path, $"safetensors file cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>Reads and validates a header from an open stream positioned anywhere (it seeks to the start).</summary>
    internal static SafetensorsFile Read(string path, Stream stream)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw new ModelLoadException(path, $"not a safetensors file: {fileLength} bytes, shorter than the 8-byte header length");
        }
        Span<byte> prefix = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(prefix);
        ulong rawLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (rawLength < 2 || rawLength > MaxHeaderBytes)
        {
            throw new ModelLoadException(path, $"not a safetensors file: header length {rawLength} is outside 2..{MaxHeaderBytes} bytes");
        }
        long headerLength = (long)rawLength;
        if (headerLength > fileLength - 8)
        {
            throw new ModelLoadException(path, $"truncated safetensors file: the header claims {headerLength} bytes but the file has only {fileLength - 8} after the length");
        }
        byte[] header = new byte[headerLength];
        stream.ReadExactly(header);
        byte[] hash;
        using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            sha.AppendData(prefix);
            sha.AppendData(header);
            hash = sha.GetHashAndReset();
        }
        long dataStart = 8 + headerLength;
        long dataLength = fileLength - dataStart;
        (Dictionary<string, SafetensorsTensor> tensors, Dictionary<string, string> metadata) = ParseHeader(path, header, dataStart, dataLength);
        return new SafetensorsFile(path, fileLength, headerLength, hash, tensors, metadata);
    }

    private static (Dictionary<string, SafetensorsTensor>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataStart, long dataLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, $"safetensors header is not valid JSON ({ex.Message})", ex);
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException(path, "safetensors header is not a JSON object");
            }
            var tensors = new Dictionary<string, SafetensorsTensor>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (sawMetadata)
                    {
                        throw new ModelLoadException(path, "safetensors header has '__metadata__' twice");
                    }
                    sawMetadata = true;
                    ReadMetadata(path, property.Value, metadata);
                    continue;
                }
                if (tensors.Count >= MaxTensors)
                {
                    throw new ModelLoadException(path, $"safetensors header lists more than {MaxTensors} tensors");
                }
                SafetensorsTensor tensor = ReadTensor(path, property.Name, property.Value, dataStart, dataLength);
                if (!tensors.TryAdd(tensor.Name, tensor))
                {
                    throw new ModelLoadException(path, $"safetensors header lists tensor '{Shorten(tensor.Name)}' twice");
                }
            }
            CheckOverlaps(path, tensors.Values, dataStart);
            return (tensors, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ModelLoadException(path, "safetensors '__metadata__' is not an object of strings");
        }
        foreach (JsonProperty entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                throw new ModelLoadException(path, $"safetensors '__metadata__' entry '{Shorten(entry.Name)}' is not a string");
            }
            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static SafetensorsTensor ReadTensor(string path, string name, JsonElement value, long dataStart, long dataLength)
    {
        string shown = Shorten(name);
        if (name.Length == 0)
        {
            throw new ModelLoadException(path, "safetensors header has a tensor with an empty name");
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ModelLoadException(path, $"tensor '{shown}': header entry is not an object");
        }
        if (!value.TryGetProperty("dtype", out JsonElement dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new ModelLoadException(path, $"tensor '{shown}': header entry has no string 'dtype'");
        }
        string dtypeName = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out SafetensorsDType dtype))
        {
            throw new ModelLoadException(path, $"tensor '{shown}': unknown dtype '{Shorten(dtypeName)}'");
        }
        if (!value.TryGetProperty("shape", out JsonElement shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw new ModelLoadException(path, $"tensor '{shown}': header entry has no 'shape' array");
        }
        int rank = shapeElement.GetArrayLength();
        if (rank > MaxRank)
        {
            throw new ModelLoadException(path, $"tensor '{shown}': rank {rank} is more than {MaxRank}");
        }
        var shape = new long[rank];
        long count = 1;
        bool overflow = false;
        int i = 0;
        foreach (JsonElement d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
            {
                throw new ModelLoadException(path, $"tensor '{shown}': shape entry {d.GetRawText()} is not a non-negative integer");
            }
            shape[i++] = dim;
            try
            {
                count = checked(count * dim);
            }
            catch (OverflowException)
            {
                overflow = true;
            }
        }
        if (!value.TryGetProperty("data_offsets", out JsonElement offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
        {
            throw new ModelLoadException(path, $"tensor '{shown}': header entry has no 'data_offsets' pair");
        }
        long begin = Offset(path, shown, offsets[0]);
        long end = Offset(path, shown, offsets[1]);
        if (end < begin)
        {
            throw new ModelLoadException(path, $"tensor '{shown}': data_offsets [{begin}, {end}] end before they begin");
        }
        if (end > dataLength)
        {
            throw new ModelLoadException(path, $"tensor '{shown}': data_offsets [{begin}, {end}] point past the end of the data ({dataLength} bytes; the file is truncated or the header lies)");
        }
        long expected;
        try
        {
            expected = overflow ? -1 : checked(count * SafetensorsDTypes.Size(dtype));
        }
        catch (OverflowException)
        {
            expected = -1;
        }
        if (expected != end - begin)
        {
            throw new ModelLoadException(path,
                $"tensor '{shown}': {dtypeName} {SafetensorsTensor.FormatShape(shape)} needs {(expected < 0 ? "more than 2^63" : expected.ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes but data_offsets [{begin}, {end}] span {end - begin}");
        }
        return new SafetensorsTensor(name, dtype, shape, dataStart + begin, end - begin);
    }

    private static long Offset(string path, string shown, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out long value) || value < 0)
        {
            throw new ModelLoadException(path, $"tensor '{shown}': data offset {element.GetRawText()} is not a non-negative integer");
        }
        return value;
    }

    private static void CheckOverlaps(string path, IEnumerable<SafetensorsTensor> tensors, long dataStart)
    {
        SafetensorsTensor? previous = null;
        foreach (SafetensorsTensor t in tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.FileOffset))
        {
            if (previous is not null && t.FileOffset < previous.FileOffset + previous.ByteLength)
            {
                throw new ModelLoadException(path,
                    $"tensors '{Shorten(previous.Name)}' and '{Shorten(t.Name)}' overlap (bytes {previous.FileOffset - dataStart}..{previous.FileOffset - dataStart + previous.ByteLength} and {t.FileOffset - dataStart}..{t.FileOffset - dataStart + t.ByteLength} of the data)");
            }
            previous = t;
        }
    }

    private static string Shorten(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, 120));
        foreach (char c in text)
        {
            if (sb.Length >= 120)
            {
                sb.Append('…');
                break;
            }
            sb.Append(char.IsControl(c) ? '?' : c);
        }
        return sb.ToString();
    }
}
