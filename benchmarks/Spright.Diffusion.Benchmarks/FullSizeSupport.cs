using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.Random;

namespace Spright.Diffusion.Benchmarks;

/// <summary>Shared pieces of the full-size diffusers benchmarks: the model folder (SPRIGHT_FULLSIZE_DIFFUSERS, a diffusers
/// folder written by tools/fullsize/FullSize), its optimum export (built once beside it), peak-memory probes and raw
/// ONNX Runtime UNet runs with I/O binding.</summary>
internal static class FullSizeSupport
{
    public const string Variable = "SPRIGHT_FULLSIZE_DIFFUSERS";

    /// <summary>The diffusers folder, or null (every full-size benchmark is then empty).</summary>
    public static string? Folder => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } p && Directory.Exists(Path.Combine(p, "unet")) ? Path.GetFullPath(p) : null;

    public static string RequireFolder() => Folder ?? throw new InvalidOperationException($"Set {Variable} to a full-size diffusers folder (tools/fullsize/FullSize).");

    /// <summary>The graph cache the benchmarks use (SPRIGHT_FULLSIZE_GRAPH_CACHE, default: a folder beside the model).</summary>
    public static string GraphCache(string folder) =>
        Environment.GetEnvironmentVariable("SPRIGHT_FULLSIZE_GRAPH_CACHE") is { Length: > 0 } c ? c : folder.TrimEnd('/') + "-graph-cache";

    /// <summary>The optimum-layout export of the folder (SPRIGHT_FULLSIZE_ONNX, default: <c>FOLDER-onnx</c>), written once
    /// with the library's exporter when missing.</summary>
    public static string OptimumFolder(string folder)
    {
        string path = Environment.GetEnvironmentVariable("SPRIGHT_FULLSIZE_ONNX") is { Length: > 0 } o ? o : folder.TrimEnd('/') + "-onnx";
        if (!File.Exists(Path.Combine(path, "unet", "model.onnx")))
        {
            Console.WriteLine($"// exporting {folder} to the optimum layout at {path}");
            OptimumExport.Write(folder, path, GraphDtype.Float32);
        }
        return path;
    }

    /// <summary>The built UNet graph (from the cache, built when missing).</summary>
    public static string BuiltUNet(string folder, string? cache = null, GraphOptimizations? optimizations = null) =>
        DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, Path.Combine(folder, "unet"),
            new GraphBuildOptions { CacheDirectory = cache ?? GraphCache(folder), Optimizations = optimizations });

    /// <summary>The built VAE decoder graph.</summary>
    public static string BuiltVaeDecoder(string folder) =>
        DiffusersGraphs.GetOrBuild(DiffusersComponentKind.VaeDecoder, Path.Combine(folder, "vae"), new GraphBuildOptions { CacheDirectory = GraphCache(folder) });

    /// <summary>Process peak resident set (VmHWM) in MiB, or -1 off Linux.</summary>
    public static double PeakMiB() => ProcStatus("VmHWM:");

    /// <summary>Process resident set (VmRSS) in MiB, or -1 off Linux.</summary>
    public static double RssMiB() => ProcStatus("VmRSS:");

    /// <summary>Resets VmHWM to the current RSS (Linux: writing 5 to /proc/self/clear_refs), so a phase's peak can be read.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static double ProcStatus(string key)
    {
        if (!File.Exists("/proc/self/status"))
        {
            return -1;
        }
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                string kb = line[key.Length..].Trim().Split(' ')[0];
                return double.Parse(kb, CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        return -1;
    }

    /// <summary>Wall and process CPU seconds of an action.</summary>
    public static (double Wall, double Cpu) Time(Action action)
    {
        using var process = Process.GetCurrentProcess();
        TimeSpan cpu0 = process.TotalProcessorTime;
        long t0 = Stopwatch.GetTimestamp();
        action();
        double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        process.Refresh();
        return (wall, (process.TotalProcessorTime - cpu0).TotalSeconds);
    }

    public static OnnxRuntimeSettings Settings => new();
}

/// <summary>One UNet session with bound batch-2 inputs (seeded) and output: the raw ONNX Runtime path, the same for both
/// graphs compared.</summary>
internal sealed class BoundUNet : IDisposable
{
    private readonly List<OrtValue> _values = [];
    private readonly RunOptions _runOptions = new();
    private readonly OrtIoBinding _binding;

    public BoundUNet(InferenceSession session, int side, int batch = 2)
    {
        Session = session;
        int s = side / 8;
        var g = new TorchGenerator(1);
        float[] sample = new float[batch * 4 * s * s];
        g.Randn(sample);
        float[] hidden = new float[batch * 77 * 1024];
        g.Randn(hidden);
        Output = new float[sample.Length];
        _binding = session.CreateIoBinding();
        _binding.BindInput("sample", Track(OrtValue.CreateTensorValueFromMemory(sample, [batch, 4, s, s])));
        _binding.BindInput("timestep", Track(OrtValue.CreateTensorValueFromMemory(new[] { 501f }, [])));
        _binding.BindInput("encoder_hidden_states", Track(OrtValue.CreateTensorValueFromMemory(hidden, [batch, 77, 1024])));
        _binding.BindOutput("out_sample", Track(OrtValue.CreateTensorValueFromMemory(Output, [batch, 4, s, s])));
    }

    public InferenceSession Session { get; }

    public float[] Output { get; }

    public void Run() => Session.RunWithBinding(_runOptions, _binding);

    public void Dispose()
    {
        _binding.Dispose();
        _runOptions.Dispose();
        foreach (OrtValue v in _values)
        {
            v.Dispose();
        }
    }

    public static InferenceSession Open(string modelPath) => SessionFactory.Create(modelPath, "unet", FullSizeSupport.Settings);

    private OrtValue Track(OrtValue value)
    {
        _values.Add(value);
        return value;
    }
}
