using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spright.Diffusion.Tools.FullSize;

// dotnet run --project tools/fullsize/FullSize -c Release -- OUT_DIR [--components unet,text_encoder,vae] [--seed N]
//     [--std S] [--onnx OUT_ONNX] [--tiny-model DIR]
// Writes a random-weight SPRIGHT-T2I (SD 2.1-768-v architecture) folder in the diffusers layout; see tools/fullsize/README.md.
string? output = null;
string components = "unet,text_encoder,vae";
ulong seed = 0;
float std = 0.02f;
string? onnx = null;
string? tiny = null;
for (int i = 0; i < args.Length; i++)
{
    string a = args[i];
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
    switch (a)
    {
        case "--components": components = Value(); break;
        case "--seed": seed = ulong.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--std": std = float.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--onnx": onnx = Value(); break;
        case "--tiny-model": tiny = Value(); break;
        case "-h" or "--help":
            Console.WriteLine("usage: FullSize OUT_DIR [--components unet,text_encoder,vae] [--seed N] [--std 0.02] [--onnx OUT_ONNX] [--tiny-model DIR]");
            return 0;
        default:
            if (a.StartsWith('-') || output is not null)
            {
                Console.Error.WriteLine($"unknown argument {a} (see --help)");
                return 2;
            }
            output = a;
            break;
    }
}
if (output is null)
{
    Console.Error.WriteLine("usage: FullSize OUT_DIR [--components unet,text_encoder,vae] [--seed N] [--std 0.02] [--onnx OUT_ONNX]");
    return 2;
}
if (!(std > 0 && std < 1))
{
    Console.Error.WriteLine("--std must be in (0, 1)");
    return 2;
}
string[] wanted = components.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
string[] known = ["unet", "text_encoder", "vae"];
if (wanted.Length == 0 || wanted.Except(known).FirstOrDefault() is { } unknown && unknown.Length > 0)
{
    Console.Error.WriteLine($"--components takes a comma list of {string.Join(", ", known)}");
    return 2;
}

tiny ??= FindTinyModel();
output = Path.GetFullPath(output);
Directory.CreateDirectory(output);
var clock = Stopwatch.StartNew();

foreach (string sub in new[] { "tokenizer", "scheduler" })
{
    CopyFolder(Path.Combine(tiny, sub), Path.Combine(output, sub));
}
var index = JsonNode.Parse(File.ReadAllText(Path.Combine(tiny, "model_index.json")))!.AsObject();
index["_name_or_path"] = "random-full-size-spright-t2i-sd2";
WriteText(Path.Combine(output, "model_index.json"), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

foreach (string component in wanted)
{
    (string config, string weights, Func<JsonElement, List<TensorSpec>> layout) = component switch
    {
        "unet" => (SprightConfigs.UNet, "diffusion_pytorch_model.safetensors", (Func<JsonElement, List<TensorSpec>>)WeightLayout.UNet),
        "vae" => (SprightConfigs.Vae, "diffusion_pytorch_model.safetensors", WeightLayout.Vae),
        _ => (SprightConfigs.TextEncoder, "model.safetensors", WeightLayout.ClipText),
    };
    string folder = Path.Combine(output, component);
    Directory.CreateDirectory(folder);
    string configText = config.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    WriteText(Path.Combine(folder, "config.json"), configText);
    using JsonDocument doc = JsonDocument.Parse(configText);
    List<TensorSpec> tensors = layout(doc.RootElement);
    long bytes = tensors.Sum(t => t.ElementCount) * 4;
    Console.WriteLine($"{component}: {tensors.Count} tensors, {bytes / 1e9:F2} GB ...");
    long written = 0;
    long lastReport = 0;
    SafetensorsWriter.Write(Path.Combine(folder, weights), tensors, seed ^ ComponentSalt(component), std, n =>
    {
        written += n;
        if (written - lastReport >= 500_000_000)
        {
            lastReport = written;
            Console.WriteLine($"  {written / 1e9:F1} / {bytes / 1e9:F2} GB ({clock.Elapsed.TotalSeconds:F0} s)");
        }
    });
    Console.WriteLine($"  wrote {Path.Combine(folder, weights)} ({clock.Elapsed.TotalSeconds:F0} s)");
}
Console.WriteLine($"wrote {output} in {clock.Elapsed.TotalSeconds:F0} s");

if (onnx is not null)
{
    // OptimumExport is internal to the library; this developer tool reaches it by reflection rather than widening the
    // library's API.
    Type export = typeof(Spright.Diffusion.OnnxRuntime.OnnxRuntimeSettings).Assembly.GetType("Spright.Diffusion.OnnxRuntime.Building.OptimumExport", throwOnError: true)!;
    MethodInfo write = export.GetMethods(BindingFlags.Public | BindingFlags.Static).Single(m => m.Name == "Write" && m.GetParameters().Length == 4);
    object float32 = Enum.ToObject(write.GetParameters()[2].ParameterType, 0);
    Console.WriteLine($"exporting the optimum layout to {Path.GetFullPath(onnx)} ...");
    var exportClock = Stopwatch.StartNew();
    try
    {
        write.Invoke(null, [output, Path.GetFullPath(onnx), float32, CancellationToken.None]);
    }
    catch (TargetInvocationException e) when (e.InnerException is not null)
    {
        Console.Error.WriteLine($"export failed: {e.InnerException.Message}");
        return 1;
    }
    Console.WriteLine($"wrote {Path.GetFullPath(onnx)} in {exportClock.Elapsed.TotalSeconds:F0} s");
}
return 0;

static ulong ComponentSalt(string component) => component switch
{
    "unet" => 0x756E6574UL,
    "vae" => 0x766165UL,
    _ => 0x74657874UL,
};

static string FindTinyModel()
{
    foreach (string? start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
    {
        for (string? dir = start; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            string candidate = Path.Combine(dir, "samples", "models", "tiny-sd2");
            if (File.Exists(Path.Combine(dir, "Spright.Diffusion.sln")) && Directory.Exists(candidate))
            {
                return candidate;
            }
        }
    }
    throw new DirectoryNotFoundException("samples/models/tiny-sd2 not found; pass --tiny-model DIR");
}

static void CopyFolder(string from, string to)
{
    Directory.CreateDirectory(to);
    foreach (string file in Directory.EnumerateFiles(from))
    {
        string target = Path.Combine(to, Path.GetFileName(file));
        string temp = target + ".tmp";
        File.Copy(file, temp, overwrite: true);
        File.Move(temp, target, overwrite: true);
    }
}

static void WriteText(string path, string text)
{
    string temp = path + ".tmp";
    File.WriteAllText(temp, text);
    File.Move(temp, path, overwrite: true);
}
