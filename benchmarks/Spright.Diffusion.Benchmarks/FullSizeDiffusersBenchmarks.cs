using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.Pipelines;

namespace Spright.Diffusion.Benchmarks;

/// <summary>
/// Full-size SPRIGHT UNet from a diffusers folder (SPRIGHT_FULLSIZE_DIFFUSERS, written by tools/fullsize/FullSize): the
/// graph the library builds (weights in place, CPU operator set) against optimum's layout exported by the library from
/// the same weights, one batch-2 evaluation through raw ONNX Runtime with the same session options. GlobalCleanup of the
/// 512² built cases checks that both graphs agree within 1e-4 (after the peak is recorded). Without the variable every benchmark is an empty call.
/// </summary>
[BenchmarkCategory("FullSize")]
[Config(typeof(PeakMemoryConfig))]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 2, invocationCount: 1)]
public class FullSizeDiffusersUNetBenchmarks
{
    private BoundUNet? _run;

    [Params(512, 768)]
    public int Side { get; set; }

    /// <summary>The library's build, the build with the opt-in sub-pixel upsampling in the UNet, or the export.</summary>
    [Params("built", "built-subpixel", "optimum")]
    public string Graph { get; set; } = "built";

    [GlobalSetup]
    public void Setup()
    {
        if (FullSizeSupport.Folder is not { } folder)
        {
            return;
        }
        string path = Graph switch
        {
            "built" => FullSizeSupport.BuiltUNet(folder),
            "built-subpixel" => FullSizeSupport.BuiltUNet(folder, optimizations: GraphOptimizations.CpuDefault | GraphOptimizations.SubPixelUpsamplingInUNet),
            _ => Path.Combine(FullSizeSupport.OptimumFolder(folder), "unet", "model.onnx"),
        };
        _run = new BoundUNet(BoundUNet.Open(path), Side);
        FullSizeSupport.ResetPeak();
    }

    [Benchmark]
    public void UNetStep() => _run?.Run();

    /// <summary>Records the peak, then (512², built graphs) checks the last output against the export's: after the
    /// measurement, so the comparison session never counts in the peak.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        PeakMemoryColumn.Record(this, nameof(UNetStep), FullSizeSupport.PeakMiB());
        if (_run is not null && Side == 512 && Graph != "optimum" && FullSizeSupport.Folder is { } folder)
        {
            using var other = new BoundUNet(BoundUNet.Open(Path.Combine(FullSizeSupport.OptimumFolder(folder), "unet", "model.onnx")), Side);
            other.Run();
            float diff = BoundComponent.MaxDiff(_run.Output, other.Output);
            Console.WriteLine($"// {Graph} vs optimum at 512²: max |diff| {diff:E2} ({(diff <= 1e-4f ? "agree" : "DIFFER")} within 1e-4)");
            other.Session.Dispose();
        }
        _run?.Session.Dispose();
        _run?.Dispose();
    }
}

/// <summary>The full-size UNet's first graph build into an empty cache (build + hard links + graph write, no session),
/// the cached path's session creation (what every later FromPretrained pays) and, for comparison, the optimum export's
/// session creation. Empty without SPRIGHT_FULLSIZE_DIFFUSERS.</summary>
[BenchmarkCategory("FullSize")]
[Config(typeof(PeakMemoryConfig))]
[SimpleJob(launchCount: 1, warmupCount: 0, iterationCount: 2, invocationCount: 1)]
public class FullSizeGraphBuildBenchmarks
{
    private string? _cache;

    [IterationSetup(Target = nameof(FirstBuild))]
    public void EmptyCache()
    {
        DeleteCache();
        _cache = Path.Combine(Path.GetTempPath(), "spright-bench-cache-" + Guid.NewGuid().ToString("N"));
        FullSizeSupport.ResetPeak();
    }

    [IterationSetup(Targets = [nameof(CachedSessionCreation), nameof(OptimumSessionCreation)])]
    public void WarmCache() => FullSizeSupport.ResetPeak();

    [Benchmark]
    public string? FirstBuild() => FullSizeSupport.Folder is { } folder ? FullSizeSupport.BuiltUNet(folder, _cache) : null;

    [Benchmark]
    public void CachedSessionCreation()
    {
        if (FullSizeSupport.Folder is { } folder)
        {
            BoundUNet.Open(FullSizeSupport.BuiltUNet(folder)).Dispose();
        }
    }

    /// <summary>The same session from the optimum export (weights in <c>model.onnx_data</c>), for comparison.</summary>
    [Benchmark]
    public void OptimumSessionCreation()
    {
        if (FullSizeSupport.Folder is { } folder)
        {
            BoundUNet.Open(Path.Combine(FullSizeSupport.OptimumFolder(folder), "unet", "model.onnx")).Dispose();
        }
    }

    [GlobalCleanup(Target = nameof(OptimumSessionCreation))]
    public void CleanupOptimumSession() => PeakMemoryColumn.Record(this, nameof(OptimumSessionCreation), FullSizeSupport.PeakMiB());

    [GlobalCleanup(Target = nameof(FirstBuild))]
    public void CleanupBuild()
    {
        PeakMemoryColumn.Record(this, nameof(FirstBuild), FullSizeSupport.PeakMiB());
        DeleteCache();
    }

    [GlobalCleanup(Target = nameof(CachedSessionCreation))]
    public void CleanupSession() => PeakMemoryColumn.Record(this, nameof(CachedSessionCreation), FullSizeSupport.PeakMiB());

    private void DeleteCache()
    {
        if (_cache is not null && Directory.Exists(_cache))
        {
            Directory.Delete(_cache, recursive: true);
        }
    }
}

/// <summary>Full-size VAE decode of one latent, whole vs the pipeline's blended tiles (tile = the VAE config's
/// sample_size, 768 px for SPRIGHT, so tiling only changes anything above 768²). Empty without SPRIGHT_FULLSIZE_DIFFUSERS.</summary>
[BenchmarkCategory("FullSize")]
[Config(typeof(PeakMemoryConfig))]
[SimpleJob(launchCount: 1, warmupCount: 0, iterationCount: 1, invocationCount: 1)]
public class FullSizeVaeTilingBenchmarks
{
    private OnnxVaeDecoder? _decoder;
    private Tensor<float>? _latents;

    [Params(768, 1024)]
    public int Side { get; set; }

    [Params(false, true)]
    public bool Tiling { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (FullSizeSupport.Folder is not { } folder)
        {
            return;
        }
        _decoder = new OnnxVaeDecoder(FullSizeSupport.BuiltVaeDecoder(folder), FullSizeSupport.Settings, configDirectory: Path.Combine(folder, "vae"));
        int s = Side / 8;
        var data = new float[4 * s * s];
        new Random.TorchGenerator(3).Randn(data);
        _latents = TensorShapes.Wrap(data, [1, 4, s, s]);
        FullSizeSupport.ResetPeak();
    }

    [Benchmark]
    public Tensor<float>? Decode() => _decoder is null ? null : VaeTiling.Decode(_decoder, _latents!, new VaeSettings(Tiling, false), null, default);

    [GlobalCleanup]
    public void Cleanup()
    {
        PeakMemoryColumn.Record(this, nameof(Decode), FullSizeSupport.PeakMiB());
        _decoder?.Dispose();
    }
}

/// <summary>Adds <see cref="PeakMemoryColumn"/>.</summary>
public sealed class PeakMemoryConfig : BenchmarkDotNet.Configs.ManualConfig
{
    public PeakMemoryConfig() => AddColumn(new PeakMemoryColumn());
}

/// <summary>The benchmark process's peak working set (VmHWM after the measured iterations; reset after GlobalSetup where
/// Linux allows), passed from the benchmark process to the host through a file per case.</summary>
public sealed class PeakMemoryColumn : IColumn
{
    private static string Store => Path.Combine(Path.GetTempPath(), "spright-bench-peak");

    public string Id => nameof(PeakMemoryColumn);

    public string ColumnName => "Peak WS (MiB)";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Process peak working set (VmHWM) after setup, in MiB";

    /// <summary>Called in the benchmark process (GlobalCleanup) with the measured method's name.</summary>
    public static void Record(object benchmark, string method, double mib)
    {
        // BenchmarkDotNet runs a generated subclass (Runnable_N): key by the declared benchmark class.
        Type type = benchmark.GetType();
        while (type.BaseType is { } parent && type.Name.StartsWith("Runnable_", StringComparison.Ordinal))
        {
            type = parent;
        }
        Directory.CreateDirectory(Store);
        File.WriteAllText(Path.Combine(Store, Key(type.Name + "." + method, benchmark)), mib.ToString("F0", System.Globalization.CultureInfo.InvariantCulture));
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        string file = Path.Combine(Store, Key(benchmarkCase.Descriptor.Type.Name + "." + benchmarkCase.Descriptor.WorkloadMethod.Name, benchmarkCase));
        return File.Exists(file) ? File.ReadAllText(file) : "-";
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    private static string Key(string type, object source)
    {
        // The parameters identify the case: read them off the benchmark instance, or the case's parameter set.
        string parameters = source is BenchmarkCase c
            ? string.Join("_", c.Parameters.Items.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}-{p.Value}"))
            : string.Join("_", source.GetType().GetProperties().Where(p => p.GetCustomAttributes(typeof(ParamsAttribute), false).Length > 0)
                .OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}-{p.GetValue(source)}"));
        return type + "_" + parameters + ".txt";
    }
}
