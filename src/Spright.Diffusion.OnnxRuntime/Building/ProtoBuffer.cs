using System.Text;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// A protobuf message being written (wire format, varint and length-delimited fields): small fields are kept as bytes,
/// large payloads as <see cref="ProtoSegment"/>s that are only produced when the message is written out, so a model
/// with gigabytes of inline weights is streamed from the weight files instead of being held in memory.
/// </summary>
internal sealed class ProtoBuffer
{
    private readonly List<object> _chunks = [];
    private byte[] _current = new byte[256];
    private int _used;

    /// <summary>The serialized length in bytes.</summary>
    public long Length { get; private set; }

    /// <summary>Appends a varint field.</summary>
    public ProtoBuffer Varint(int field, long value)
    {
        Tag(field, 0);
        RawVarint((ulong)value);
        return this;
    }

    /// <summary>Appends a 32-bit float field (wire type 5).</summary>
    public ProtoBuffer Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> bytes = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        Raw(bytes);
        return this;
    }

    /// <summary>Appends a UTF-8 string field.</summary>
    public ProtoBuffer String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>Appends a bytes field.</summary>
    public ProtoBuffer Bytes(int field, ReadOnlySpan<byte> bytes)
    {
        Tag(field, 2);
        RawVarint((ulong)bytes.Length);
        Raw(bytes);
        return this;
    }

    /// <summary>Appends a packed repeated int64 field.</summary>
    public ProtoBuffer PackedVarints(int field, IReadOnlyList<long> values)
    {
        var inner = new ProtoBuffer();
        foreach (long v in values)
        {
            inner.RawVarint((ulong)v);
        }
        return Message(field, inner);
    }

    /// <summary>Appends a packed repeated float field.</summary>
    public ProtoBuffer PackedFloats(int field, IReadOnlyList<float> values)
    {
        var bytes = new byte[values.Count * 4];
        for (int i = 0; i < values.Count; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }
        return Bytes(field, bytes);
    }

    /// <summary>Appends an embedded message field (its chunks are shared, not copied).</summary>
    public ProtoBuffer Message(int field, ProtoBuffer message)
    {
        Tag(field, 2);
        RawVarint((ulong)message.Length);
        Flush();
        foreach (object chunk in message.Chunks())
        {
            _chunks.Add(chunk);
        }
        Length += message.Length;
        return this;
    }

    /// <summary>Appends a bytes field whose content is produced when the message is written.</summary>
    public ProtoBuffer Segment(int field, ProtoSegment segment)
    {
        Tag(field, 2);
        RawVarint((ulong)segment.Length);
        Flush();
        _chunks.Add(segment);
        Length += segment.Length;
        return this;
    }

    /// <summary>Writes the message to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream, CancellationToken cancellationToken = default)
    {
        foreach (object chunk in Chunks())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (chunk is byte[] bytes)
            {
                stream.Write(bytes);
            }
            else if (chunk is ArraySegment<byte> part)
            {
                stream.Write(part);
            }
            else
            {
                var segment = (ProtoSegment)chunk;
                long before = stream.CanSeek ? stream.Position : -1;
                segment.Write(stream, cancellationToken);
                if (before >= 0 && stream.Position - before != segment.Length)
                {
                    throw new InvalidOperationException($"A data segment wrote {stream.Position - before} bytes instead of the {segment.Length} announced.");
                }
            }
        }
    }

    /// <summary>The message as one array (for small messages).</summary>
    public byte[] ToArray()
    {
        using var stream = new MemoryStream(checked((int)Length));
        WriteTo(stream);
        return stream.ToArray();
    }

    private IEnumerable<object> Chunks()
    {
        foreach (object chunk in _chunks)
        {
            yield return chunk;
        }
        if (_used > 0)
        {
            yield return new ArraySegment<byte>(_current, 0, _used);
        }
    }

    private void Flush()
    {
        if (_used > 0)
        {
            _chunks.Add(_current.AsSpan(0, _used).ToArray());
            _used = 0;
        }
    }

    private void Tag(int field, int wireType) => RawVarint(((ulong)field << 3) | (uint)wireType);

    private void RawVarint(ulong value)
    {
        Span<byte> buffer = stackalloc byte[10];
        int n = 0;
        while (value >= 0x80)
        {
            buffer[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[n++] = (byte)value;
        Raw(buffer[..n]);
    }

    private void Raw(ReadOnlySpan<byte> bytes)
    {
        if (_used + bytes.Length > _current.Length)
        {
            if (bytes.Length > 4096)
            {
                Flush();
                _chunks.Add(bytes.ToArray());
                Length += bytes.Length;
                return;
            }
            Array.Resize(ref _current, Math.Max(_current.Length * 2, _used + bytes.Length));
        }
        bytes.CopyTo(_current.AsSpan(_used));
        _used += bytes.Length;
        Length += bytes.Length;
    }
}

/// <summary>A payload of known length written on demand (e.g. tensor data streamed from a weight file).</summary>
/// <param name="Length">The exact number of bytes <paramref name="Write"/> produces.</param>
/// <param name="Write">Writes the payload.</param>
internal sealed record ProtoSegment(long Length, Action<Stream, CancellationToken> Write);
