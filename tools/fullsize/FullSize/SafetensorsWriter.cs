using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Spright.Diffusion.Tools.FullSize;

/// <summary>Streams a float32 safetensors file: the header is computed from the shapes, then each tensor's random values
/// are generated and written in 1 MiB chunks (never a whole tensor, let alone the whole file, in memory). Written to a
/// temporary file and renamed into place.</summary>
internal static class SafetensorsWriter
{
    private const int ChunkElements = 1 << 18;

    public static long Write(string path, IReadOnlyList<TensorSpec> tensors, ulong seed, float std, Action<long>? progress = null)
    {
        byte[] header = Header(tensors);
        string temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        long total = 0;
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(BitConverter.GetBytes((ulong)header.Length));
                stream.Write(header);
                var buffer = new float[ChunkElements];
                foreach (TensorSpec t in tensors)
                {
                    var random = new NormalRandom(seed ^ NameHash(t.Name));
                    long left = t.ElementCount;
                    while (left > 0)
                    {
                        int n = (int)Math.Min(left, buffer.Length);
                        Span<float> chunk = buffer.AsSpan(0, n);
                        switch (t.Init)
                        {
                            case TensorInit.Normal:
                                random.Fill(chunk, std);
                                break;
                            case TensorInit.Ones:
                                chunk.Fill(1f);
                                break;
                            default:
                                chunk.Clear();
                                break;
                        }
                        stream.Write(MemoryMarshal.AsBytes(chunk));
                        left -= n;
                        total += 4L * n;
                        progress?.Invoke(4L * n);
                    }
                }
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        return total;
    }

    /// <summary>The JSON header (tensor order = data order), space-padded to a multiple of 8 bytes.</summary>
    private static byte[] Header(IReadOnlyList<TensorSpec> tensors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            w.WriteString("format", "pt");
            w.WriteEndObject();
            long offset = 0;
            foreach (TensorSpec t in tensors)
            {
                if (!seen.Add(t.Name))
                {
                    throw new InvalidOperationException($"duplicate tensor name {t.Name}");
                }
                long end = offset + 4 * t.ElementCount;
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (long d in t.Shape)
                {
                    w.WriteNumberValue(d);
                }
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(end);
                w.WriteEndArray();
                w.WriteEndObject();
                offset = end;
            }
            w.WriteEndObject();
        }
        int padded = (int)((ms.Length + 7) / 8 * 8);
        byte[] bytes = new byte[padded];
        Array.Fill(bytes, (byte)' ');
        ms.ToArray().CopyTo(bytes, 0);
        return bytes;
    }

    /// <summary>FNV-1a of the name, so every tensor's values depend only on the seed and its key.</summary>
    private static ulong NameHash(string name)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(name))
        {
            h = (h ^ b) * 1099511628211UL;
        }
        return h;
    }
}

/// <summary>xoshiro256** with Box–Muller pairs: fast, seedable normal deviates.</summary>
internal sealed class NormalRandom
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public NormalRandom(ulong seed)
    {
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
    }

    public void Fill(Span<float> destination, float std)
    {
        for (int i = 0; i < destination.Length; i += 2)
        {
            // u1 in (0, 1], u2 in [0, 1).
            float u1 = ((Next() >> 40) + 1) * (1f / (1 << 24));
            float u2 = (Next() >> 40) * (1f / (1 << 24));
            float r = std * MathF.Sqrt(-2f * MathF.Log(u1));
            (float sin, float cos) = MathF.SinCos(2f * MathF.PI * u2);
            destination[i] = r * cos;
            if (i + 1 < destination.Length)
            {
                destination[i + 1] = r * sin;
            }
        }
    }

    private ulong Next()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
