using Spright.Diffusion.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// The <c>spright</c> CLI, run as a process with invalid arguments and broken model folders: each run must exit
/// non-zero with one short stderr line that names the culprit (option, value or file), no stack trace, and no file
/// left in the working folder.
/// </summary>
public sealed class CliErrorTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("spright-cli-").FullName;

    public static TheoryData<string, string[], string[]> UsageErrors() => new()
    {
        { "unknown option", ["generate", "--prompt", "a", "--colour", "red"], ["--colour"] },
        { "option without value", ["generate", "--prompt", "a", "--steps"], ["--steps", "value"] },
        { "bad number", ["generate", "--prompt", "a", "--steps", "ten"], ["--steps", "ten"] },
        { "steps 0", ["generate", "--prompt", "a", "--steps", "0"], ["--steps", "[1, 1000]", "'0'"] },
        { "width 100", ["generate", "--prompt", "a", "--width", "100"], ["--width", "multiple of 8", "100"] },
        { "height beyond range", ["generate", "--prompt", "a", "--height", "100000"], ["--height", "100000"] },
        { "guidance NaN", ["generate", "--prompt", "a", "--guidance", "NaN"], ["--guidance", "NaN"] },
        { "guidance rescale 2", ["generate", "--prompt", "a", "--guidance-rescale", "2"], ["--guidance-rescale", "[0, 1]", "'2'"] },
        { "eta negative", ["generate", "--prompt", "a", "--eta", "-0.5"], ["--eta", "-0.5"] },
        { "num images 0", ["generate", "--prompt", "a", "--num-images", "0"], ["--num-images", "'0'"] },
        { "seed not a number", ["generate", "--prompt", "a", "--seed", "lucky"], ["--seed", "lucky"] },
        { "no prompt", ["generate", "--steps", "2"], ["--prompt"] },
        { "negative prompts not one per prompt", ["generate", "--prompt", "a", "--prompt", "b", "--negative-prompt", "x"], ["--negative-prompt", "one per --prompt"] },
        { "strength without init image", ["generate", "--prompt", "a", "--strength", "0.5"], ["--strength", "--init-image"] },
        { "missing init image", ["generate", "--prompt", "a", "--init-image", "no-such.png"], ["--init-image", "no-such.png"] },
        { "strength 1.5", ["generate", "--prompt", "a", "--init-image", "@image", "--strength", "1.5"], ["--strength", "1.5"] },
        { "init image not an image", ["generate", "--prompt", "a", "--init-image", "@text"], ["--init-image", "text.png", "not a supported image"] },
        { "init image bomb", ["generate", "--prompt", "a", "--init-image", "@bomb"], ["--init-image", "100000×100000"] },
        { "output in a missing folder", ["generate", "--prompt", "a", "--output", "missing/dir/out.png"], ["--output", "does not exist"] },
        { "output is a folder", ["generate", "--prompt", "a", "--output", "."], ["--output", "folder"] },
        { "output is a FIFO", ["generate", "--prompt", "a", "--output", "@fifo"], ["--output", "fifo.png", "not a regular file"] },
        { "npy over the image", ["generate", "--prompt", "a", "--output", "x.png", "--save-npy", "x.png"], ["--save-npy", "x.png"] },
        { "unknown scheduler", ["generate", "--prompt", "a", "--scheduler", "FastScheduler"], ["--scheduler", "FastScheduler"] },
        { "unknown scheduler option", ["generate", "--prompt", "a", "--scheduler", "EulerDiscreteScheduler", "--scheduler-option", "karras=true"], ["--scheduler-option", "karras"] },
        { "bad scheduler option value", ["generate", "--prompt", "a", "--scheduler", "DDIMScheduler", "--scheduler-option", "beta_schedule=cosine"], ["beta_schedule", "cosine"] },
        { "scheduler option without =", ["generate", "--prompt", "a", "--scheduler-option", "use_karras_sigmas"], ["--scheduler-option", "key=value"] },
        { "bad provider", ["generate", "--prompt", "a", "--provider", "tpu"], ["--provider", "tpu"] },
        { "missing model folder", ["generate", "--prompt", "a", "--model", "no/such/model"], ["--model", "no/such/model", "not a Hub repo id"] },
        { "unknown command", ["paint", "--prompt", "a"], ["paint"] },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public void Invalid_arguments_exit_2_with_one_line_naming_the_culprit(string name, string[] args, string[] mentions)
    {
        _ = name;
        CliResult result = RunGenerate(args);
        AssertCleanFailure(result, 2, mentions);
    }

    public static TheoryData<string, string[], string[]> RuntimeErrors() => new()
    {
        // Checked by the library once the model is known.
        { "cuda on the CPU package", ["--provider", "cuda"], ["CUDA", "Microsoft.ML.OnnxRuntime.Gpu"] },
        { "width not a multiple of the UNet's downsampling", ["--width", "40"], ["Width", "16", "40"] },
        { "more images than a call may make", ["--prompt", "b", "--num-images", "40"], ["NumImagesPerPrompt", "2 prompts × 40 images", "64"] },
    };

    [Theory]
    [MemberData(nameof(RuntimeErrors))]
    public void Errors_found_by_the_library_exit_1_with_one_line(string name, string[] extra, string[] mentions)
    {
        _ = name;
        CliResult result = RunGenerate(["generate", "--prompt", "a", "--steps", "2", "--quiet", "--model", TestPaths.TinyModel, "--output", "out.png", .. extra]);
        AssertCleanFailure(result, 1, mentions);
    }

    public static TheoryData<string> BrokenFolders()
    {
        var data = new TheoryData<string>();
        // The library tests cover every case; these check the CLI shows each kind (index, JSON, tokenizer, graph,
        // external weights, graphs that do not fit) as one line.
        foreach (string name in new[]
        {
            "index component escapes with ..", "index of 1 GB", "scheduler config nested object", "vae scaling factor is a string",
            "unet external weights truncated", "text encoder graph of another width than the UNet",
        })
        {
            data.Add(name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(BrokenFolders))]
    public void Broken_model_folder_exits_1_naming_the_file(string name)
    {
        BrokenModel broken = BrokenModels.Get(name);
        using var model = new TempModelFolder(TestPaths.TinyModel);
        broken.Break(model);
        CliResult result = RunGenerate(["generate", "--prompt", "a", "--steps", "2", "--quiet", "--model", model.Path, "--output", "out.png"]);
        AssertCleanFailure(result, 1, [Path.GetFullPath(model.File(broken.Culprit)), .. broken.Words]);
    }

    [Fact]
    public void Verbose_adds_the_stack_trace()
    {
        string model = Directory.CreateTempSubdirectory("spright-model-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(model, "model_index.json"), "{\"_class_name\": \"KandinskyPipeline\"}");
            CliResult quiet = RunGenerate(["generate", "--prompt", "a", "--quiet", "--model", model]);
            AssertCleanFailure(quiet, 1, ["model_index.json", "KandinskyPipeline"]);
            CliResult verbose = RunGenerate(["generate", "--prompt", "a", "--quiet", "--verbose", "--model", model]);
            Assert.Equal(1, verbose.ExitCode);
            Assert.Contains("error: " + Path.Combine(model, "model_index.json"), verbose.Stderr, StringComparison.Ordinal);
            Assert.Contains("   at ", verbose.Stderr, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(_work));
        }
        finally
        {
            Directory.Delete(model, recursive: true);
        }
    }

    [Fact]
    public async Task Ctrl_C_during_generation_exits_130_and_writes_nothing()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // SIGINT cannot be sent to a console child from here; the cancellation path itself is covered in-process.
        }
        using System.Diagnostics.Process process = CliProcess.Start(_work,
            ["generate", "--prompt", "a", "--steps", "900", "--width", "64", "--height", "64", "--model", TestPaths.TinyModel,
             "--output", "out.png", "--save-npy", "out.npy"]);
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        // Wait for the progress bar: the denoising loop is running.
        var stderr = new System.Text.StringBuilder();
        var buffer = new char[256];
        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (!stderr.ToString().Contains("/900", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "the run never reported progress: " + stderr);
            int read = process.StandardError.Read(buffer, 0, buffer.Length);
            Assert.True(read > 0, $"spright exited before the run started: {stderr}");
            stderr.Append(buffer, 0, read);
        }
        using (System.Diagnostics.Process kill = System.Diagnostics.Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }
        stderr.Append(await process.StandardError.ReadToEndAsync());
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), "spright did not stop after Ctrl+C");
        var result = new CliResult(process.ExitCode, await stdout, stderr.ToString());
        output.WriteLine(result.ToString());
        Assert.Equal(130, result.ExitCode);
        Assert.Equal("cancelled: nothing was written", result.ErrorLines[^1]);
        Assert.DoesNotContain("/900 ", result.ErrorLines[^1], StringComparison.Ordinal);
        Assert.Empty(result.Stdout.Trim());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_work));
    }

    [Fact]
    public void Successful_run_leaves_exactly_the_requested_files()
    {
        CliResult result = RunGenerate(["generate", "--prompt", "a", "--prompt", "b", "--steps", "2", "--width", "32", "--height", "32", "--seed", "3",
            "--quiet", "--model", TestPaths.TinyModel, "--output", "out.png", "--save-npy", "out.npy", "--save-latents", "lat.npy"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["lat.npy", "out.npy", "out_0.png", "out_1.png"], Directory.EnumerateFileSystemEntries(_work).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(string.Empty, result.Stderr); // --quiet: nothing on stderr unless there is an error
    }

    [Fact]
    public void Without_quiet_the_seed_is_reported_on_stderr()
    {
        CliResult result = RunGenerate(["generate", "--prompt", "a", "--steps", "1", "--width", "32", "--height", "32", "--seed", "3",
            "--model", TestPaths.TinyModel, "--output", "out.png"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("seed: 3", result.ErrorLines);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private CliResult RunGenerate(string[] args)
    {
        string[] resolved = args.Select(Resolve).ToArray();
        CliResult result = CliProcess.Run(_work, resolved);
        output.WriteLine($"spright {string.Join(' ', resolved)}\n{result}");
        // Inputs the test placed in the folder are not outputs.
        foreach (string input in new[] { "image.png", "text.png", "bomb.png", "fifo.png" })
        {
            File.Delete(Path.Combine(_work, input));
        }
        return result;
    }

    /// <summary>Replaces @image/@text/@bomb with input files made in the working folder.</summary>
    private string Resolve(string arg)
    {
        switch (arg)
        {
            case "@image":
                using (var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(32, 32))
                {
                    SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, Path.Combine(_work, "image.png"));
                }
                return "image.png";
            case "@text":
                File.WriteAllText(Path.Combine(_work, "text.png"), "this is not a PNG");
                return "text.png";
            case "@fifo":
                ImageInputLimitTests.MakeFifo(Path.Combine(_work, "fifo.png"));
                return "fifo.png";
            case "@bomb":
                File.WriteAllBytes(Path.Combine(_work, "bomb.png"), ImageBombs.PngHeader(100_000, 100_000));
                return "bomb.png";
            default:
                return arg;
        }
    }

    private void AssertCleanFailure(CliResult result, int exitCode, string[] mentions)
    {
        Assert.True(result.ExitCode == exitCode, $"expected exit {exitCode}: {result}");
        string[] lines = result.ErrorLines;
        Assert.True(lines.Length == 1, $"expected one stderr line: {result}");
        string line = lines[0];
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", line, StringComparison.Ordinal);
        foreach (string mention in mentions)
        {
            Assert.Contains(mention, line, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Empty(result.Stdout.Trim());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_work));
    }
}
