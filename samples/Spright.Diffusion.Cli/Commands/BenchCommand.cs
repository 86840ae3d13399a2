using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Cli.Commands;

/// <summary>
/// <c>spright bench</c>: loads the pipeline, runs warm-up calls, then R timed generate calls, and prints a per-stage
/// table (medians over the runs) and a last line <c>median_s=…</c> with the median seconds of one call.
/// </summary>
internal static class BenchCommand
{
    private static readonly HashSet<string> ValueOptions =
    [
        "--model", "--prompt", "--negative-prompt", "--steps", "--width", "--height", "--guidance", "--runs", "--warmup",
        "--seed", "--provider", "--device-id", "--threads", "--cache-dir", "--scheduler", "--split-from-pixels", "--opt-level",
    ];

    private static readonly HashSet<string> Flags = ["--low-memory", "--check-cpu-parity", "--verbose", "--ftfy", "--no-arena", "--memory-pattern", "--no-memory-pattern", "--no-concurrent-batch"];

    public static int Run(string[] argv, CancellationToken cancellationToken)
    {
        var args = new ArgReader(argv, ValueOptions, Flags);
        if (args.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{args.Positionals[0]}'");
        }
        int runs = args.Int("--runs", 1, 10000) ?? 5;
        int warmup = args.Int("--warmup", 0, 1000) ?? 1;
        var options = new GenerationOptions
        {
            Prompt = [args.String("--prompt") ?? "a red cube on top of a blue sphere"],
            NegativePrompt = args.String("--negative-prompt") is { } negative ? [negative] : null,
            NumInferenceSteps = args.Int("--steps", 1, 1000) ?? 10,
            GuidanceScale = args.Double("--guidance", -1000, 1000) ?? 7.5,
            Width = args.Int("--width", 8, 8192),
            Height = args.Int("--height", 8, 8192),
            Seed = args.Seed("--seed") ?? 42,
        };
        string model = CommonOptions.ModelFolder(args);
        using var loggerFactory = CommonOptions.Logging(args, null);
        DiffusionLogging.LoggerFactory = loggerFactory;
        var loadOptions = new DiffusionPipelineOptions
        {
            ExecutionProvider = CommonOptions.Provider(args),
            DeviceId = args.Int("--device-id", 0, 64) ?? 0,
            IntraOpNumThreads = args.Int("--threads", 0, 1024) ?? 0,
            OptimizedModelCacheDirectory = args.String("--cache-dir"),
            LowMemory = args.Flag("--low-memory"),
            EnableCpuMemArena = !args.Flag("--no-arena"),
            EnableMemoryPattern = args.Flag("--memory-pattern") ? true : args.Flag("--no-memory-pattern") ? false : null,
            SplitUNetBatchFromLatentPixels = args.Int("--split-from-pixels", 0, int.MaxValue) ?? new OnnxSessionSettings().SplitUNetBatchFromLatentPixels,
            EvaluateBatchItemsConcurrently = !args.Flag("--no-concurrent-batch"),
            GraphOptimizationLevel = (args.String("--opt-level") ?? "all") switch
            {
                "all" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
                "extended" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                "basic" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                "none" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
                string other => throw new UsageException($"--opt-level must be all, extended, basic or none; got '{other}'"),
            },
            UseFtfy = args.Flag("--ftfy"),
            Scheduler = args.String("--scheduler"),
            LoggerFactory = loggerFactory,
        };

        long loadStart = Stopwatch.GetTimestamp();
        using StableDiffusionPipeline pipe = StableDiffusionPipeline.FromPretrained(model, loadOptions);
        double loadSeconds = Stopwatch.GetElapsedTime(loadStart).TotalSeconds;
        int width = options.Width ?? pipe.DefaultImageSize, height = options.Height ?? pipe.DefaultImageSize;

        var observer = new StageRecorder(options.NumInferenceSteps * pipe.Scheduler.Order + 8);
        options.Observer = observer;
        for (int i = 0; i < warmup; i++)
        {
            using StableDiffusionPipelineOutput _ = pipe.Generate(options, cancellationToken);
        }
        int settleCalls = warmup > 0 ? SettleJit(pipe, options, cancellationToken) : 0;

        var wall = new double[runs];
        var perRun = new List<StageTimes>(runs);
        StableDiffusionPipelineOutput? last = null;
        try
        {
            for (int r = 0; r < runs; r++)
            {
                observer.Reset();
                long start = Stopwatch.GetTimestamp();
                StableDiffusionPipelineOutput output = pipe.Generate(options, cancellationToken);
                wall[r] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                perRun.Add(observer.Snapshot());
                last?.Dispose();
                last = output;
            }

            var ci = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(ci,
                $"model {Path.GetFullPath(model)} | {width}x{height} | {options.NumInferenceSteps} steps | guidance {options.GuidanceScale} | " +
                $"{pipe.Scheduler.ClassName} | provider {loadOptions.ExecutionProvider} | intra-op threads {(loadOptions.IntraOpNumThreads == 0 ? "auto" : loadOptions.IntraOpNumThreads)} | " +
                $"{(loadOptions.LowMemory ? "low-memory" : "all loaded")} | arena {(loadOptions.EnableCpuMemArena ? "on" : "off")} | memory pattern {(loadOptions.EnableMemoryPattern is bool p ? (p ? "on" : "off") : "auto")} | " +
                $"split batch from {loadOptions.SplitUNetBatchFromLatentPixels} latent px | concurrent batch {(loadOptions.EvaluateBatchItemsConcurrently ? "auto" : "off")} | opt {loadOptions.GraphOptimizationLevel} | {runs} runs after {warmup} warm-up" +
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
        finally
        {
            last?.Dispose();
        }
        return 0;
    }

    /// <summary>
    /// Short calls finish long before .NET's tiered JIT has recompiled the library's hot methods (a method is promoted
    /// after 30 calls, on a background thread that takes a core from the timed calls). Runs more untimed calls until no
    /// method was compiled for 2 s and 5 calls; only for calls under a second (longer ones hide the JIT), at most 15 s.
    /// </summary>
    private static int SettleJit(StableDiffusionPipeline pipe, GenerationOptions options, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        long lastCount = System.Runtime.JitInfo.GetCompiledMethodCount();
        long quietSince = start;
        int quietCalls = 0, calls = 0;
        while (Stopwatch.GetElapsedTime(start).TotalSeconds < 15 && calls < 500)
        {
            long callStart = Stopwatch.GetTimestamp();
            using (StableDiffusionPipelineOutput _ = pipe.Generate(options, cancellationToken))
            {
            }
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
    private static void CheckCpuParity(string model, DiffusionPipelineOptions gpuOptions, GenerationOptions options, StableDiffusionPipelineOutput gpu, CancellationToken cancellationToken)
    {
        var cpuOptions = new DiffusionPipelineOptions
        {
            ExecutionProvider = ExecutionProvider.Cpu,
            UseFtfy = gpuOptions.UseFtfy,
            Scheduler = gpuOptions.Scheduler,
            LoggerFactory = gpuOptions.LoggerFactory,
        };
        using StableDiffusionPipeline cpuPipe = StableDiffusionPipeline.FromPretrained(model, cpuOptions);
        GenerationOptions call = options.Clone();
        call.Observer = null;
        using StableDiffusionPipelineOutput cpu = cpuPipe.Generate(call, cancellationToken);
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

    /// <summary>Collects stage durations into preallocated arrays: nothing is allocated while a call runs.</summary>
    private sealed class StageRecorder(int maxSteps) : IGenerationObserver
    {
        private readonly long[] _stages = new long[Enum.GetValues<GenerationStage>().Length];
        private readonly int[] _calls = new int[Enum.GetValues<GenerationStage>().Length];
        private readonly long[] _unet = new long[maxSteps];
        private int _steps;

        public void OnStage(GenerationStage stage, int step, long elapsedTicks)
        {
            _stages[(int)stage] += elapsedTicks;
            _calls[(int)stage]++;
            if (stage == GenerationStage.UNet && step >= 0 && step < _unet.Length)
            {
                _unet[step] = elapsedTicks;
                _steps = Math.Max(_steps, step + 1);
            }
        }

        public void Reset()
        {
            Array.Clear(_stages);
            Array.Clear(_calls);
            Array.Clear(_unet);
            _steps = 0;
        }

        public StageTimes Snapshot()
        {
            double Ms(GenerationStage s) => _stages[(int)s] * 1000.0 / Stopwatch.Frequency;
            int Calls(GenerationStage s) => _calls[(int)s];
            return new StageTimes(Ms(GenerationStage.Load), Calls(GenerationStage.Load), Ms(GenerationStage.Tokenize), Calls(GenerationStage.Tokenize),
                Ms(GenerationStage.TextEncoder), Calls(GenerationStage.TextEncoder), Ms(GenerationStage.Prepare),
                _unet.Take(_steps).Select(t => t * 1000.0 / Stopwatch.Frequency).ToArray(),
                Ms(GenerationStage.Guidance), Ms(GenerationStage.Scheduler), Ms(GenerationStage.VaeDecoder), Ms(GenerationStage.Postprocess));
        }
    }
}
