using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Building;

/// <summary>Paths, a scratch folder and ONNX Runtime helpers for the graph builder tests.</summary>
internal static class BuildingTestData
{
    public static string TinySd2 => TestPaths.TinySd2Diffusers;

    public static string TinySd1 => Path.Combine(TestPaths.TestData, "models", "tiny-sd1-diffusers");

    public static string Sd2Reference(params string[] parts) => TestPaths.Reference(["components", .. parts]);

    public static string Sd1Reference(params string[] parts) => TestPaths.Reference(["variants", "sd1", "components", .. parts]);

    /// <summary>Options with a private cache folder.</summary>
    public static GraphBuildOptions Options(TempFolder temp, GraphDtype dtype = GraphDtype.Float32, string? variant = null,
        GraphOptimizations? optimizations = null) =>
        new() { CacheDirectory = temp.Combine("cache"), Dtype = dtype, Variant = variant, Optimizations = optimizations };

    /// <summary>A session for a built graph, with the library's quiet logging.</summary>
    public static InferenceSession Session(string modelPath)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        return new InferenceSession(modelPath, options);
    }

    /// <summary>A float input as the session declares it (float32 or float16).</summary>
    public static NamedOnnxValue FloatInput(InferenceSession session, string name, float[] data, int[] shape)
    {
        if (session.InputMetadata[name].ElementDataType == TensorElementType.Float16)
        {
            return NamedOnnxValue.CreateFromTensor(name, new DenseTensor<Float16>(data.Select(v => (Float16)v).ToArray(), shape));
        }
        return NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(data, shape));
    }

    /// <summary>An input from a reference .npy (int64 or float).</summary>
    public static NamedOnnxValue NpyInput(InferenceSession session, string name, string npyPath)
    {
        NpyArray array = Npy.Load(npyPath);
        if (array.Int64 is { } ids)
        {
            return NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(ids, array.Shape));
        }
        return FloatInput(session, name, array.AsFloat32(), array.Shape);
    }

    /// <summary>Runs the session and returns every output as float32 with its shape.</summary>
    public static Dictionary<string, (float[] Data, int[] Shape)> Run(InferenceSession session, IReadOnlyCollection<NamedOnnxValue> inputs)
    {
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(inputs);
        var outputs = new Dictionary<string, (float[], int[])>(StringComparer.Ordinal);
        foreach (DisposableNamedOnnxValue r in results)
        {
            if (r.ElementType == TensorElementType.Float16)
            {
                Tensor<Float16> t = r.AsTensor<Float16>();
                outputs[r.Name] = (t.Select(v => (float)v).ToArray(), t.Dimensions.ToArray());
            }
            else
            {
                Tensor<float> t = r.AsTensor<float>();
                outputs[r.Name] = (t.ToArray(), t.Dimensions.ToArray());
            }
        }
        return outputs;
    }

    /// <summary>Deterministic pseudo-random floats in [-scale, scale].</summary>
    public static float[] RandomFloats(int count, int seed, float scale = 1f)
    {
        var random = new System.Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        }
        return values;
    }
}

/// <summary>A temporary folder deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "spright-building-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Copies <paramref name="source"/> (recursively) to <paramref name="relative"/> and returns the copy's path.</summary>
    public string Copy(string source, string relative)
    {
        string destination = Combine(relative);
        CopyDirectory(source, destination);
        return destination;
    }

    public static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.EnumerateFiles(source))
        {
            string target = System.IO.Path.Combine(destination, System.IO.Path.GetFileName(file));
            File.Copy(file, target);
            File.SetAttributes(target, FileAttributes.Normal);
        }
        foreach (string dir in Directory.EnumerateDirectories(source))
        {
            CopyDirectory(dir, System.IO.Path.Combine(destination, System.IO.Path.GetFileName(dir)));
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Writes safetensors files (the format: 8-byte little-endian header length, JSON header, data).</summary>
internal static class SafetensorsWriter
{
    public sealed record Entry(string Name, string DType, long[] Shape, byte[] Data);

    public static Entry Floats(string name, long[] shape, float[] values, string dtype = "F32") => dtype switch
    {
        "F32" => new Entry(name, dtype, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray()),
        "F16" => new Entry(name, dtype, shape, MemoryMarshal.AsBytes(values.Select(v => (Half)v).ToArray().AsSpan()).ToArray()),
        "BF16" => new Entry(name, dtype, shape, values.SelectMany(v => BitConverter.GetBytes((ushort)(BitConverter.SingleToInt32Bits(v) >> 16))).ToArray()),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>The header JSON for <paramref name="entries"/> laid out back to back.</summary>
    public static string Header(IReadOnlyList<Entry> entries, JsonObject? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is not null)
        {
            header["__metadata__"] = metadata;
        }
        long offset = 0;
        foreach (Entry e in entries)
        {
            header[e.Name] = new JsonObject
            {
                ["dtype"] = e.DType,
                ["shape"] = new JsonArray(e.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + e.Data.Length),
            };
            offset += e.Data.Length;
        }
        return header.ToJsonString();
    }

    public static void Write(string path, IReadOnlyList<Entry> entries, JsonObject? metadata = null) =>
        WriteRaw(path, Header(entries, metadata), entries.SelectMany(e => e.Data).ToArray());

    /// <summary>Writes a file from a header text and data bytes as given (for lying headers).</summary>
    public static void WriteRaw(string path, string header, byte[] data, long? declaredHeaderLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        stream.Write(BitConverter.GetBytes((ulong)(declaredHeaderLength ?? json.Length)));
        stream.Write(json);
        stream.Write(data);
    }
}
