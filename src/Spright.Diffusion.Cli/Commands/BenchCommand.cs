using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.Diagnostics;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.OnnxRuntime;

namespace Spright.Diffusion.Cli.Commands;

/// <summary>
/// <c>spright bench</c>: loads the pipeline, runs warm-up calls, then R timed generate calls, and prints a per-stage
/// table (medians over the runs) and a last line <c>median_s=…</c> with the median seconds of one call.
/// </summary>
internal static class BenchCommand
{
    private static readonly HashSet<string> ValueOptions =
    [
        .. CommonOptions.ModelValueOptions, "--prompt", "--negative-prompt", "--steps", "--width", "--height", "--guidance", "--runs", "--warmup",
        "--seed", "--provider", "--device-id", "--threads", "--optimized-cache-dir", "--scheduler", "--split-from-pixels", "--opt-level",
        "--compare",
    ];

    private static readonly HashSet<string> Flags = [.. CommonOptions.ModelFlags, "--low-memory", "--check-cpu-parity", "--verbose", "--ftfy", "--no-arena", "--memory-pattern", "--small-graph-tuning", "--no-small-graph-tuning"];

    public static int Run(string[] argv, CancellationToken cancellationToken)
    {
        var args = new ArgReader(argv, ValueOptions, Flags);
        if (args.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{args.Positionals[0]}'");
        }
        int runs = args.Int("--runs", 1, 10000) ?? 5;
        int warmup = args.Int("--warmup", 0, 1000) ?? 1;
        var options = new TextToImageOptions
        {
            Prompt = [args.String("--prompt") ?? "a red cube on top of a blue sphere"],
            NegativePrompt = args.String("--negative-prompt") is { } negative ? [negative] : null,
            NumInferenceSteps = args.Int("--steps", 1, 1000) ?? 10,
            GuidanceScale = args.Double("--guidance", -1000, 1000) ?? 7.5,
            Width = args.Int("--width", 8, 8192),
            Height = args.Int("--height", 8, 8192),
            Seed = args.Seed("--seed") ?? 42,
        };
        string model = CommonOptions.Model(args);
        using var loggerFactory = CommonOptions.Logging(args, null);
        DiffusionLogging.LoggerFactory = loggerFactory;
        var settings = new OnnxRuntimeSettings
        {
            ExecutionProvider = CommonOptions.Provider(args),
            DeviceId = args.Int("--device-id", 0, 64) ?? 0,
            IntraOpNumThreads = args.Int("--threads", 0, 1024) ?? 0,
            OptimizedModelCacheDirectory = args.String("--optimized-cache-dir"),
            EnableCpuMemArena = !args.Flag("--no-arena"),
            EnableMemoryPattern = args.Flag("--memory-pattern"),
            SplitUNetBatchFromLatentPixels = args.Int("--split-from-pixels", 0, int.MaxValue) ?? new OnnxRuntimeSettings().SplitUNetBatchFromLatentPixels,
            SmallGraphTuning = CommonOptions.SmallGraphTuning(args),
            GraphOptimizationLevel = (args.String("--opt-level") ?? "all") switch
            {
                "all" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
                "extended" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                "basic" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                "none" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
                string other => throw new UsageException($"--opt-level must be all, extended, basic or none; got '{other}'"),
            },
        };
        DiffusionPipelineOptions loadOptions = CommonOptions.Load(args, settings, loggerFactory, progress: null) with
        {
            LowMemory = args.Flag("--low-memory"),
            Scheduler = args.String("--scheduler"),
        };

        if (args.String("--compare") is { } compareModel)
        {
            return Compare(model, compareModel, loadOptions, options, runs, warmup, cancellationToken);
        }

        long loadStart = Stopwatch.GetTimestamp();
        using StableDiffusionPipeline pipe = StableDiffusionPipeline.FromPretrained(model, loadOptions, cancellationToken);
        double loadSeconds = Stopwatch.GetElapsedTime(loadStart).TotalSeconds;
        int width = options.Width ?? pipe.DefaultImageSize, height = options.Height ?? pipe.DefaultImageSize;

        using var observer = new StageRecorder();
        for (int i = 0; i < warmup; i++)
        {
            pipe.Generate(options, cancellationToken);
        }
        int settleCalls = warmup > 0 ? SettleJit(pipe, options, cancellationToken) : 0;

        var wall = new double[runs];
        var perRun = new List<StageTimes>(runs);
        StableDiffusionPipelineOutput? last = null;
        {
            for (int r = 0; r < runs; r++)
            {
                observer.Reset();
                long start = Stopwatch.GetTimestamp();
                StableDiffusionPipelineOutput output = pipe.Generate(options, cancellationToken);
                wall[r] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                perRun.Add(observer.Snapshot());
                last = output;
            }

            var ci = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(ci,
                $"model {Path.GetFullPath(model)} | {width}x{height} | {options.NumInferenceSteps} steps | guidance {options.GuidanceScale} | " +
                $"{pipe.Scheduler.ClassName} | provider {settings.ExecutionProvider} | intra-op threads {(settings.IntraOpNumThreads == 0 ? "auto" : settings.IntraOpNumThreads)} | " +
                $"{(loadOptions.LowMemory ? "low-memory" : "all loaded")} | arena {(settings.EnableCpuMemArena ? "on" : "off")} | memory pattern {(settings.EnableMemoryPattern ? "on" : "off")} | " +
                $"split batch from {settings.SplitUNetBatchFromLatentPixels} latent px | small-graph tuning {(settings.SmallGraphTuning ? "on" : "off")} | opt {settings.GraphOptimizationLevel} | {runs} runs after {warmup} warm-up" +
                $"{(settleCalls > 0 ? $" + {settleCalls} until the JIT settled" : "")}"));
            Console.WriteLine(string.Create(ci, $"load_s={loadSeconds:F3}"));
            Console.WriteLine();
            Console.WriteLine("stage                calls/run   median ms/run    min ms/run");
            PrintRow("load (on demand)", perRun, s => s.Load, s => s.LoadCalls);
            PrintRow("tokenize", perRun, s => s.Tokenize, s => s.TokenizeCalls);
            PrintRow("text encoder", perRun, s => s.TextEncoder, s => s.TextEncoderCalls);
            PrintRow("prepare", perRun, s => s.Prepare, s => 1);
            int steps = perRun.Count > 0 ? perRun[0].UNet.Length : 0;
            for (int i = 0; i < steps; i++)
            {
                int step = i;
                PrintRow($"unet step {i}", perRun, s => step < s.UNet.Length ? s.UNet[step] : 0, s => 1);
            }
            PrintRow("unet (all steps)", perRun, s => s.UNet.Sum(), s => s.UNet.Length);
            PrintRow("guidance", perRun, s => s.Guidance, s => s.UNet.Length);
            PrintRow("scheduler", perRun, s => s.Scheduler, s => s.UNet.Length);
            PrintRow("vae decoder", perRun, s => s.VaeDecoder, s => 1);
            PrintRow("postprocess", perRun, s => s.Postprocess, s => 1);
            double[] other = perRun.Select((s, r) => (wall[r] * 1000) - s.Total).ToArray();
            Console.WriteLine(string.Create(ci, $"{"other (untimed)",-20} {"",9} {Median(other),15:F3} {other.Min(),13:F3}"));
            Console.WriteLine(string.Create(ci, $"{"total (wall)",-20} {"",9} {Median(wall) * 1000,15:F3} {wall.Min() * 1000,13:F3}"));
            Console.WriteLine();
            Console.WriteLine(string.Create(ci, $"peak_rss_mb={PeakRssMegabytes():F0}"));

            if (args.Flag("--check-cpu-parity"))
            {
                CheckCpuParity(model, loadOptions, options, last!, cancellationToken);
            }
            Console.WriteLine(string.Create(ci, $"median_s={Median(wall):F4}"));
        }
        return 0;
    }

    /// <summary>
    /// Short calls finish long before .NET's tiered JIT has recompiled the library's hot methods (a method is promoted
    /// after 30 calls, on a background thread that takes a core from the timed calls). Runs more untimed calls until no
    /// method was compiled for 2 s and 5 calls; only for calls under a second (longer ones hide the JIT), at most 15 s.
    /// </summary>
    /// <summary><c>--compare DIR2</c>: both models loaded with the same options, warmed up, then timed in alternating
    /// order (A B, B A, …) in this process, so drift of the machine falls on both alike; prints each median, the ratio
    /// and the largest difference of the final latents (same seed: the two should agree when they are the same
    /// weights, e.g. a diffusers folder and its export).</summary>
    private static int Compare(string modelA, string modelB, DiffusionPipelineOptions loadOptions, TextToImageOptions options, int runs, int warmup,
        CancellationToken cancellationToken)
    {
        var ci = CultureInfo.InvariantCulture;
        options = options with { OutputType = OutputType.Latent };
        long start = Stopwatch.GetTimestamp();
        using StableDiffusionPipeline a = StableDiffusionPipeline.FromPretrained(modelA, loadOptions, cancellationToken);
        double loadA = Stopwatch.GetElapsedTime(start).TotalSeconds;
        start = Stopwatch.GetTimestamp();
        using StableDiffusionPipeline b = StableDiffusionPipeline.FromPretrained(modelB, loadOptions, cancellationToken);
        double loadB = Stopwatch.GetElapsedTime(start).TotalSeconds;
        for (int i = 0; i < warmup; i++)
        {
            a.Generate(options, cancellationToken);
            b.Generate(options, cancellationToken);
        }
        if (warmup > 0)
        {
            SettleJit(a, options, cancellationToken);
            SettleJit(b, options, cancellationToken);
        }
        var wallA = new double[runs];
        var wallB = new double[runs];
        float[]? latentsA = null, latentsB = null;
        for (int r = 0; r < runs; r++)
        {
            bool aFirst = r % 2 == 0;
            for (int k = 0; k < 2; k++)
            {
                bool runA = aFirst == (k == 0);
                StableDiffusionPipeline pipe = runA ? a : b;
                start = Stopwatch.GetTimestamp();
                StableDiffusionPipelineOutput output = pipe.Generate(options, cancellationToken);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (runA)
                {
                    wallA[r] = seconds;
                    latentsA ??= output.Latents.AsSpan().ToArray();
                }
                else
                {
                    wallB[r] = seconds;
                    latentsB ??= output.Latents.AsSpan().ToArray();
                }
            }
        }
        double maxDiff = latentsA!.Length == latentsB!.Length
            ? latentsA.Zip(latentsB, (x, y) => Math.Abs((double)x - y)).Max()
            : double.NaN;
        Console.WriteLine(string.Create(ci, $"A {Path.GetFullPath(modelA)}: load_s={loadA:F3} median_s={Median(wallA):F4} min_s={wallA.Min():F4}"));
        Console.WriteLine(string.Create(ci, $"B {Path.GetFullPath(modelB)}: load_s={loadB:F3} median_s={Median(wallB):F4} min_s={wallB.Min():F4}"));
        Console.WriteLine(string.Create(ci, $"{runs} interleaved runs each, {options.NumInferenceSteps} steps, latents max |A-B| = {maxDiff:G3}"));
        Console.WriteLine(string.Create(ci, $"ratio_b_over_a={Median(wallB) / Median(wallA):F3}"));
        return 0;
    }

    private static int SettleJit(StableDiffusionPipeline pipe, TextToImageOptions options, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        long lastCount = System.Runtime.JitInfo.GetCompiledMethodCount();
        long quietSince = start;
        int quietCalls = 0, calls = 0;
        while (Stopwatch.GetElapsedTime(start).TotalSeconds < 15 && calls < 500)
        {
            long callStart = Stopwatch.GetTimestamp();
            pipe.Generate(options, cancellationToken);
            calls++;
            if (Stopwatch.GetElapsedTime(callStart).TotalSeconds >= 1)
            {
                break;
            }
            long count = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (count != lastCount)
            {
                lastCount = count;
                quietSince = Stopwatch.GetTimestamp();
                quietCalls = 0;
            }
            else if (++quietCalls >= 5 && Stopwatch.GetElapsedTime(quietSince).TotalSeconds >= 2)
            {
                break;
            }
        }
        return calls;
    }

    private static void PrintRow(string name, List<StageTimes> runs, Func<StageTimes, double> value, Func<StageTimes, int> calls)
    {
        if (runs.Count == 0)
        {
            return;
        }
        double[] values = runs.Select(value).ToArray();
        int count = calls(runs[0]);
        if (count == 0 && values.All(v => v == 0))
        {
            return;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-20} {count,9} {Median(values),15:F3} {values.Min(),13:F3}"));
    }

    private static double Median(double[] values)
    {
        double[] sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n == 0 ? 0 : n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>The process's peak resident memory (Linux VmHWM), or 0 where unknown.</summary>
    private static double PeakRssMegabytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    string kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                    return double.Parse(kb, CultureInfo.InvariantCulture) / 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return Environment.WorkingSet / (1024.0 * 1024.0);
    }

    /// <summary>Generates the same call on the CPU provider in this process (a GPU native package carries the CPU
    /// provider too) and prints the largest differences of the latents and the [0, 1] images.</summary>
    private static void CheckCpuParity(string model, DiffusionPipelineOptions gpuOptions, TextToImageOptions options, StableDiffusionPipelineOutput gpu, CancellationToken cancellationToken)
    {
        DiffusionPipelineOptions cpuOptions = gpuOptions with { Backend = new OnnxRuntimeBackend(), LowMemory = false };
        using StableDiffusionPipeline cpuPipe = StableDiffusionPipeline.FromPretrained(model, cpuOptions, cancellationToken);
        StableDiffusionPipelineOutput cpu = cpuPipe.Generate(options, cancellationToken);
        double latentDiff = MaxAbsDiff(gpu.Latents.AsSpan(), cpu.Latents.AsSpan());
        double imageDiff = gpu.ImageArray is { } a && cpu.ImageArray is { } b ? MaxAbsDiff(a.AsSpan(), b.AsSpan()) : double.NaN;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parity_vs_cpu max_abs_diff latents={latentDiff:G4} image={imageDiff:G4}"));
    }

    private static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
        {
            return double.PositiveInfinity;
        }
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        }
        return max;
    }

    /// <summary>Per-run stage totals in milliseconds.</summary>
    private sealed record StageTimes(double Load, int LoadCalls, double Tokenize, int TokenizeCalls, double TextEncoder, int TextEncoderCalls,
        double Prepare, double[] UNet, double Guidance, double Scheduler, double VaeDecoder, double Postprocess)
    {
        public double Total => Load + Tokenize + TextEncoder + Prepare + UNet.Sum() + Guidance + Scheduler + VaeDecoder + Postprocess;
    }

    /// <summary>Collects the library's stage activities (<see cref="DiffusionDiagnostics"/>) per run.</summary>
    private sealed class StageRecorder : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly Lock _gate = new();
        private readonly Dictionary<string, (double Ms, int Calls)> _stages = new(StringComparer.Ordinal);
        private readonly SortedDictionary<int, double> _unet = [];

        public StageRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == DiffusionDiagnostics.SourceName,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
                ActivityStopped = Stopped,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public void Reset()
        {
            lock (_gate)
            {
                _stages.Clear();
                _unet.Clear();
            }
        }

        public StageTimes Snapshot()
        {
            lock (_gate)
            {
                (double Ms, int Calls) Get(string name) => _stages.TryGetValue(name, out (double, int) v) ? v : (0, 0);
                (double load, int loadCalls) = Get(DiffusionDiagnostics.Activities.Load);
                (double tokenize, int tokenizeCalls) = Get(DiffusionDiagnostics.Activities.Tokenize);
                (double text, int textCalls) = Get(DiffusionDiagnostics.Activities.TextEncoder);
                return new StageTimes(load, loadCalls, tokenize, tokenizeCalls, text, textCalls, Get(DiffusionDiagnostics.Activities.Prepare).Ms,
                    _unet.Values.ToArray(), Get(DiffusionDiagnostics.Activities.Guidance).Ms, Get(DiffusionDiagnostics.Activities.Scheduler).Ms,
                    Get(DiffusionDiagnostics.Activities.VaeDecoder).Ms, Get(DiffusionDiagnostics.Activities.Postprocess).Ms);
            }
        }

        public void Dispose() => _listener.Dispose();

        private void Stopped(Activity activity)
        {
            double ms = activity.Duration.TotalMilliseconds;
            lock (_gate)
            {
                if (activity.OperationName == DiffusionDiagnostics.Activities.UNet && activity.GetTagItem("step") is int step)
                {
                    _unet[step] = _unet.GetValueOrDefault(step) + ms;
                }
                (double Ms, int Calls) current = _stages.GetValueOrDefault(activity.OperationName);
                _stages[activity.OperationName] = (current.Ms + ms, current.Calls + 1);
            }
        }
    }
}
