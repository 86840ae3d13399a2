using System.Globalization;
using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Pipelines;

namespace Spright.Diffusion.Benchmarks;

/// <summary>
/// The full-size verification mode: <c>dotnet run -c Release --project benchmarks/Spright.Diffusion.Benchmarks --
/// fullsize-check [pipeline] [build] [unet[:SIDES]] [vae[:SIDES]] [vae-tiled[:SIDES]]</c> with SPRIGHT_FULLSIZE_DIFFUSERS set. Each phase
/// prints wall and process-CPU seconds and the process peak working set (VmHWM, reset before the phase) in one line
/// that starts with <c>RESULT</c>. Single runs, interleaved where two things are compared: a loaded 2-core machine
/// cannot afford BenchmarkDotNet's repetitions of 10–60 s calls (the BenchmarkDotNet classes are the repeatable form).
/// </summary>
internal static class FullSizeCheck
{
    public static int Run(string[] args)
    {
        string? folder = FullSizeSupport.Folder;
        if (folder is null)
        {
            Console.WriteLine($"{FullSizeSupport.Variable} is not set (or has no unet/): nothing to check.");
            return 0;
        }
        string[] phases = args.Length > 0 ? args : ["pipeline", "build", "unet", "vae"];
        Console.WriteLine($"model {folder}; ORT {OrtEnv.Instance().GetVersionString()}; .NET {Environment.Version}; {Environment.ProcessorCount} cores");
        foreach (string phase in phases)
        {
            string[] parts = phase.Split(':');
            int[] sides = parts.Length > 1 ? parts[1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [];
            switch (parts[0])
            {
                case "pipeline":
                    Pipeline(folder);
                    break;
                case "build":
                    Build(folder);
                    break;
                case "unet":
                    UNet(folder, sides.Length > 0 ? sides : [512], parts.Length > 2 ? int.Parse(parts[2], CultureInfo.InvariantCulture) : 1);
                    break;
                case "vae":
                    Vae(folder, sides.Length > 0 ? sides : [768, 1024], tiledOnly: false);
                    break;
                case "vae-tiled":
                    // Sizes whose whole decode does not fit in memory (2048² needs tens of GB untiled).
                    Vae(folder, sides.Length > 0 ? sides : [2048], tiledOnly: true);
                    break;
                default:
                    Console.Error.WriteLine($"unknown phase {phase}");
                    return 2;
            }
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return 0;
    }

    private static double _rssBefore;

    /// <summary>Resets the peak working set and remembers the resident set the phase starts from.</summary>
    private static void StartPhase()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        FullSizeSupport.ResetPeak();
        _rssBefore = FullSizeSupport.RssMiB();
    }

    private static void Report(string what, (double Wall, double Cpu) t, string extra = "")
    {
        Console.WriteLine(FormattableString.Invariant(
            $"RESULT {what}: wall {t.Wall:F2} s, cpu {t.Cpu:F2} s, peak {FullSizeSupport.PeakMiB():F0} MiB (rss before {_rssBefore:F0}, after {FullSizeSupport.RssMiB():F0} MiB){extra}"));
    }

    /// <summary>FromPretrained on the diffusers folder (graphs from the benchmark's cache) and a 1-step 512² call.</summary>
    private static void Pipeline(string folder)
    {
        StartPhase();
        DiffusionPipeline? pipe = null;
        var load = FullSizeSupport.Time(() => pipe = DiffusionPipeline.FromPretrained(folder, new DiffusionPipelineOptions { Backend = new Spright.Diffusion.OnnxRuntime.OnnxRuntimeBackend(new Spright.Diffusion.OnnxRuntime.OnnxRuntimeSettings { GraphCacheDirectory = FullSizeSupport.GraphCache(folder) }) }));
        Report("pipeline FromPretrained", load);
        using (pipe)
        {
            StartPhase();
            StableDiffusionPipelineOutput? output = null;
            var run = FullSizeSupport.Time(() => output = pipe!.Generate(new TextToImageOptions
            {
                Prompt = ["a red cube on top of a blue sphere"],
                NumInferenceSteps = 1,
                Width = 512,
                Height = 512,
                Seed = 0,
                OutputType = OutputType.Array,
            }));
            ReadOnlySpan<float> image = output!.ImageArray!.AsSpan();
            bool finite = !TensorPrimitives.IsNaNAny(image) && !TensorPrimitives.IsInfinityAny(image);
            Report("pipeline 1-step 512x512 (guidance 7.5)", run, FormattableString.Invariant(
                $"; image {string.Join('x', output.ImageArray!.Lengths.ToArray())}, finite {finite}, mean {TensorPrimitives.Average(image):F4}, std {Std(image):F4}"));
        }
    }

    /// <summary>The UNet graph built into an empty cache + its first session, then the cached path + session.</summary>
    private static void Build(string folder)
    {
        string cache = Path.Combine(Path.GetTempPath(), "spright-fullsize-build-" + Guid.NewGuid().ToString("N"));
        try
        {
            StartPhase();
            string path = "";
            Report("unet graph build (empty cache)", FullSizeSupport.Time(() => path = FullSizeSupport.BuiltUNet(folder, cache)));
            StartPhase();
            InferenceSession? session = null;
            Report("unet session creation after build", FullSizeSupport.Time(() => session = BoundUNet.Open(path)));
            session!.Dispose();
            StartPhase();
            Report("unet graph cache hit", FullSizeSupport.Time(() => path = FullSizeSupport.BuiltUNet(folder, cache)));
            StartPhase();
            Report("unet session creation (cached graph)", FullSizeSupport.Time(() => session = BoundUNet.Open(path)));
            session!.Dispose();
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    /// <summary>Built (in-place weights, CPU operator set) vs optimum export (standard operators, written weights): batch-2
    /// raw ORT runs, interleaved; at 512² the two outputs are compared.</summary>
    private static void UNet(string folder, int[] sides, int repeats)
    {
        string optimum = Path.Combine(FullSizeSupport.OptimumFolder(folder), "unet", "model.onnx");
        string built = FullSizeSupport.BuiltUNet(folder);
        foreach (int side in sides)
        {
            StartPhase();
            InferenceSession? a = null;
            InferenceSession? b = null;
            Report($"unet session built ({side})", FullSizeSupport.Time(() => a = BoundUNet.Open(built)));
            Report($"unet session optimum ({side})", FullSizeSupport.Time(() => b = BoundUNet.Open(optimum)));
            using var builtRun = new BoundUNet(a!, side);
            using var optimumRun = new BoundUNet(b!, side);
            for (int r = 0; r < repeats + 1; r++)
            {
                string tag = r == 0 ? "first" : $"run {r}";
                StartPhase();
                Report($"unet built {side}x{side} batch 2 {tag}", FullSizeSupport.Time(builtRun.Run));
                StartPhase();
                Report($"unet optimum {side}x{side} batch 2 {tag}", FullSizeSupport.Time(optimumRun.Run));
            }
            if (side == 512)
            {
                float diff = Math.Abs(TensorPrimitives.MaxMagnitude(Subtract(builtRun.Output, optimumRun.Output)));
                float scale = Math.Abs(TensorPrimitives.MaxMagnitude(optimumRun.Output));
                bool finite = !TensorPrimitives.IsNaNAny<float>(builtRun.Output);
                Console.WriteLine(FormattableString.Invariant(
                    $"RESULT unet built vs optimum 512: max |diff| {diff:E2} (max |out| {scale:F3}, finite {finite}) -> {(diff <= 1e-4f ? "AGREE within 1e-4" : "DIFFER beyond 1e-4")}"));
            }
            a!.Dispose();
            b!.Dispose();
            GC.Collect();
        }
    }

    /// <summary>VAE decode of one latent, whole vs tiled (the pipeline's tiling; tile = the config's sample_size).</summary>
    private static void Vae(string folder, int[] sides, bool tiledOnly)
    {
        string path = FullSizeSupport.BuiltVaeDecoder(folder);
        using var decoder = new OnnxVaeDecoder(path, FullSizeSupport.Settings, configDirectory: Path.Combine(folder, "vae"));
        (int tile, _) = VaeTiling.TileSizes(decoder.Info);
        Console.WriteLine($"vae tile {tile} px");
        foreach (int side in sides)
        {
            int s = side / 8;
            var latents = new float[4 * s * s];
            new Random.TorchGenerator(3).Randn(latents);
            foreach (bool tiling in tiledOnly ? new[] { true } : new[] { false, true })
            {
                StartPhase();
                var t = FullSizeSupport.Time(() => VaeTiling.Decode(decoder, TensorShapes.Wrap(latents, [1, 4, s, s]), new VaeSettings(tiling, false), null, default));
                Report($"vae decode {side}x{side} {(tiling ? "tiled" : "whole")}", t);
            }
        }
    }

    private static float[] Subtract(float[] x, float[] y)
    {
        var d = new float[x.Length];
        TensorPrimitives.Subtract(x, y, d);
        return d;
    }

    private static double Std(ReadOnlySpan<float> x)
    {
        double mean = TensorPrimitives.Average(x);
        double sum = 0;
        foreach (float v in x)
        {
            sum += (v - mean) * (v - mean);
        }
        return Math.Sqrt(sum / x.Length);
    }
}
