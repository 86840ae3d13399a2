using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Spright.Diffusion.Benchmarks;

/// <summary>
/// <c>profile MODEL.onnx [--runs N] [--warmup W] [--threads T] [--shape name=AxBxC ...]</c>: runs one graph under ONNX
/// Runtime's profiler and prints, per operator type, its kernel time per run, its share, its node count and, for the
/// GEMM-class operators (Conv, MatMul, Gemm, MultiHeadAttention), the floating-point work and the rate it ran at. The rate
/// of the large convolutions is the machine's practical fp32 ceiling; when the GEMM-class share is high and runs near
/// it, no rewrite of the graph around them can make it much faster (Amdahl). The session uses ONNX Runtime's default
/// options (all optimizations, arena and memory pattern on), not the library's, so any graph profiles the same way.
/// </summary>
internal static class OperatorProfile
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || !File.Exists(args[0]))
        {
            Console.Error.WriteLine("usage: profile MODEL.onnx [--runs N] [--warmup W] [--threads T] [--shape name=AxBxC ...]");
            return 2;
        }
        string model = args[0];
        int runs = 10, warmup = 2, threads = 0;
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        for (int i = 1; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--runs": runs = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--shape":
                    string[] parts = value.Split('=', 2);
                    shapes[parts[0]] = [.. parts[1].Split('x').Select(d => long.Parse(d, CultureInfo.InvariantCulture))];
                    break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
            i++;
        }

        string prefix = Path.Combine(Path.GetTempPath(), $"spright-profile-{Environment.ProcessId}");
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            EnableProfiling = true,
            ProfileOutputPathPrefix = prefix,
        };
        if (threads > 0)
        {
            options.IntraOpNumThreads = threads;
        }
        var load = Stopwatch.StartNew();
        using var session = new InferenceSession(model, options);
        Console.WriteLine($"session created in {load.Elapsed.TotalSeconds:F2} s (ONNX Runtime's default session options)");
        var inputs = new List<OrtValue>();
        try
        {
            foreach ((string name, NodeMetadata meta) in session.InputMetadata)
            {
                long[] dims = shapes.TryGetValue(name, out long[]? given) ? given : [.. meta.Dimensions.Select(d => d < 0 ? 1L : d)];
                inputs.Add(MakeInput(meta.ElementDataType, dims));
                Console.WriteLine($"input {name} {meta.ElementDataType} [{string.Join(",", dims)}]");
            }
            string[] inputNames = [.. session.InputMetadata.Keys];
            string[] outputNames = [.. session.OutputMetadata.Keys];
            using var runOptions = new RunOptions();
            var wall = new List<double>();
            for (int r = 0; r < warmup + runs; r++)
            {
                var sw = Stopwatch.StartNew();
                using IDisposableReadOnlyCollection<OrtValue> outputs = session.Run(runOptions, inputNames, inputs, outputNames);
                if (r >= warmup)
                {
                    wall.Add(sw.Elapsed.TotalMilliseconds);
                }
            }
            string file = session.EndProfiling();
            Summarize(file, warmup, runs, wall);
            File.Delete(file);
        }
        finally
        {
            foreach (OrtValue value in inputs)
            {
                value.Dispose();
            }
        }
        return 0;
    }

    private static OrtValue MakeInput(TensorElementType type, long[] dims)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var random = new System.Random(1);
        return type switch
        {
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, (int)count).Select(_ => (float)random.NextDouble()).ToArray(), dims),
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, (int)count).ToArray(), dims),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1, (int)count).ToArray(), dims),
            _ => throw new NotSupportedException($"input type {type} (give float32, int64 or int32 inputs)"),
        };
    }

    private static void Summarize(string file, int warmup, int runs, List<double> wall)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(file));
        var byOp = new Dictionary<string, (double Us, int Nodes, double Flop)>(StringComparer.Ordinal);
        var kernels = new HashSet<string>(StringComparer.Ordinal);
        int runEvents = 0;
        foreach (JsonElement e in doc.RootElement.EnumerateArray())
        {
            string? category = e.GetProperty("cat").GetString();
            string name = e.GetProperty("name").GetString()!;
            if (category == "Session" && name == "model_run")
            {
                runEvents++;
            }
            if (category != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal))
            {
                continue;
            }
            if (runEvents < warmup)
            {
                continue; // ORT writes a run's model_run event after its nodes: these are the warm-up runs' nodes
            }
            JsonElement a = e.GetProperty("args");
            string op = a.GetProperty("op_name").GetString()!;
            kernels.Add(name);
            double flop = Flop(op, Shapes(a, "input_type_shape"), Shapes(a, "output_type_shape"));
            byOp.TryGetValue(op, out (double Us, int Nodes, double Flop) sum);
            byOp[op] = (sum.Us + e.GetProperty("dur").GetDouble(), sum.Nodes + 1, sum.Flop + flop);
        }
        double totalUs = byOp.Values.Sum(v => v.Us) / runs;
        double totalFlop = byOp.Values.Sum(v => v.Flop) / runs;
        wall.Sort();
        Console.WriteLine($"{runs} profiled runs after {warmup} warm-up: median wall {wall[wall.Count / 2]:F3} ms; {kernels.Count} kernels, " +
            $"kernel time {totalUs / 1000:F3} ms per run, {totalFlop / 1e9:F2} GFLOP per run ({totalFlop / (totalUs * 1e3):F1} GFLOP/s overall)");
        Console.WriteLine($"{"operator",-28} {"ms/run",10} {"share",6} {"nodes",6} {"GFLOP",9} {"GFLOP/s",8}");
        foreach ((string op, (double us, int nodes, double flop)) in byOp.OrderByDescending(kv => kv.Value.Us))
        {
            string work = flop > 0 ? $"{flop / runs / 1e9,9:F2} {flop / (us * 1e3),8:F1}" : "";
            Console.WriteLine($"{op,-28} {us / runs / 1000,10:F3} {100 * us / runs / totalUs,5:F1}% {nodes / runs,6} {work}");
        }
    }

    private static long[][] Shapes(JsonElement args, string key) =>
        args.TryGetProperty(key, out JsonElement list)
            ? [.. list.EnumerateArray().Select(o => o.EnumerateObject().First().Value.EnumerateArray().Select(x => x.GetInt64()).ToArray())]
            : [];

    private static double Product(long[] shape) => shape.Aggregate(1.0, (x, y) => x * y);

    /// <summary>Multiply-adds × 2 of one GEMM-class node from its profiled shapes (0 for other operators).</summary>
    private static double Flop(string op, long[][] inputs, long[][] outputs)
    {
        if (inputs.Length == 0 || outputs.Length == 0)
        {
            return 0;
        }
        long[] output = outputs[0], a = inputs[0];
        switch (op)
        {
            case "Conv" or "FusedConv" or "NchwcConv" when inputs.Length > 1 && inputs[1].Length == 4:
                long[] w = inputs[1];
                return 2 * Product(output) * w[1] * w[2] * w[3];
            case "MatMul" or "FusedMatMul" or "Gemm" when a.Length >= 2 && output.Length >= 2:
                // A is [.., M, K] or, transposed, [.., K, M]: K is the side that is not the output's M.
                long m = output[^2];
                long k = a[^2] == m ? a[^1] : a[^2];
                return 2 * Product(output) * k;
            case "MultiHeadAttention" when a.Length is 3 or 5:
                // Q·Kᵀ and P·V: 2 × 2 × B × S × L × (heads × head size). Query [B, S, D] with key [B, L, D] or packed KV
                // [B, L, N, 2, H], or packed QKV [B, S, N, 3, H]; a key in [B, N, L, H] is not counted right.
                double bs = a[0] * a[1];
                double width = a.Length == 3 ? a[2] : a[2] * a[4];
                double keys = a.Length == 5 || inputs.Length < 2 ? a[1] : inputs[1][1];
                return 4 * bs * width * keys;
            default:
                return 0;
        }
    }
}
