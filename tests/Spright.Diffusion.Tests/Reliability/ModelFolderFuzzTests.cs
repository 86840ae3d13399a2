using Spright.Diffusion.OnnxRuntime;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// Seeded fuzzing of the tiny model folder: every JSON file gets random structural mutations (wrong types, missing
/// keys, huge numbers, wrong nesting, truncated text) and graph files are truncated. Loading the mutated folder (as
/// image-to-image, so every component is read) must either succeed — and then a short generation must succeed or
/// fail with the library's own exceptions — or fail with a <see cref="ModelLoadException"/> naming a file of the
/// folder and saying what is wrong. Any other exception type is a bug. The seed and count are fixed, so a failure is
/// reproducible: the assertion message names the mutation.
/// </summary>
public sealed class ModelFolderFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 20250611;
    private const int JsonMutations = 28;

    // Each JSON file with the keys the library reads: two mutations in three hit one of these (anywhere below it), the
    // rest any key at all, so time goes to mutations that can matter rather than to loading folders with a changed "act_fn".
    private static readonly (string File, string[] ReadKeys)[] JsonFiles =
    [
        ("model_index.json", ["_class_name", "scheduler", "text_encoder", "tokenizer", "unet", "vae"]),
        ("scheduler/scheduler_config.json", []),
        ("text_encoder/config.json", ["hidden_size", "max_position_embeddings"]),
        ("unet/config.json", ["in_channels", "sample_size", "cross_attention_dim", "time_cond_proj_dim", "block_out_channels"]),
        ("vae_decoder/config.json", ["scaling_factor", "block_out_channels", "latent_channels", "force_upcast", "shift_factor"]),
        ("vae_encoder/config.json", ["scaling_factor", "block_out_channels", "latent_channels", "force_upcast", "shift_factor"]),
        ("tokenizer/tokenizer_config.json", ["model_max_length", "bos_token", "eos_token", "pad_token", "unk_token", "errors", "clean_up_tokenization_spaces"]),
    ];

    private static readonly (string File, double Fraction)[] GraphTruncations =
    [
        ("text_encoder/model.onnx", 0.0), ("text_encoder/model.onnx", 0.9), ("unet/model.onnx", 0.5),
        ("unet/model.onnx_data", 0.999), ("vae_decoder/model.onnx", 0.75),
    ];

    // Session creation without graph optimisation: the same validation, a fraction of the time.
    private static readonly DiffusionPipelineOptions Options = TestModels.Options(new OnnxRuntimeSettings { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1 });

    [Fact]
    public void Mutated_json_configs_fail_only_with_ModelLoadException()
    {
        var random = new System.Random(Seed);
        using var model = new TempModelFolder(TestPaths.TinyModel);
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        var stopwatch = Stopwatch.StartNew();
        for (int i = 0; i < JsonMutations; i++)
        {
            (string file, string[] readKeys) = JsonFiles[random.Next(JsonFiles.Length)];
            string original = model.ReadText(file);
            (string mutated, string description) = Mutate(original, random.Next(3) < 2 ? readKeys : [], random);
            model.WriteText(file, mutated);
            string outcome = LoadAndGenerate(model, $"#{i} {file}: {description}");
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            output.WriteLine($"#{i} {file}: {description} -> {outcome}");
            model.Restore(file);
        }
        output.WriteLine($"{JsonMutations} mutations in {stopwatch.ElapsedMilliseconds} ms: " + string.Join(", ", outcomes.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.True(outcomes.GetValueOrDefault("rejected") >= JsonMutations / 4, "the mutations should mostly break the folder; the fuzzer is not doing its job");
    }

    [Fact]
    public void Truncated_graph_files_fail_with_ModelLoadException_naming_the_graph()
    {
        using var model = new TempModelFolder(TestPaths.TinyModel);
        foreach ((string file, double fraction) in GraphTruncations)
        {
            model.Truncate(file, fraction);
            string outcome = LoadAndGenerate(model, $"{file} cut to {fraction:P1}", expectedCulprit: file.Replace("model.onnx_data", "model.onnx", StringComparison.Ordinal));
            Assert.Equal("rejected", outcome);
            model.Restore(file);
        }
    }

    /// <summary>Loads (and on success generates); returns "rejected", "loaded" or "generated".</summary>
    private static string LoadAndGenerate(TempModelFolder model, string what, string? expectedCulprit = null)
    {
        StableDiffusionImg2ImgPipeline pipe;
        try
        {
            pipe = StableDiffusionImg2ImgPipeline.FromPretrained(model.Path, Options);
        }
        catch (ModelLoadException ex)
        {
            string full = Path.GetFullPath(ex.FilePath);
            Assert.True(full.StartsWith(Path.GetFullPath(model.Path), StringComparison.Ordinal), $"{what}: the error names {ex.FilePath}, outside the model folder");
            Assert.False(string.IsNullOrWhiteSpace(ex.Problem), $"{what}: empty problem");
            Assert.DoesNotContain('\n', ex.Message);
            if (expectedCulprit is not null)
            {
                Assert.Equal(Path.GetFullPath(model.File(expectedCulprit)), full);
            }
            return "rejected";
        }
        catch (Exception ex)
        {
            Assert.Fail($"{what}: loading threw {ex.GetType().FullName} instead of ModelLoadException: {ex.Message}");
            throw;
        }

        using (pipe)
        {
            try
            {
                var image = new Spright.Diffusion.Imaging.RgbImage(32, 32, new byte[32 * 32 * 3]);
                StableDiffusionPipelineOutput result = pipe.Generate(new ImageToImageOptions
                {
                    Prompt = ["a cube"],
                    Image = image,
                    Strength = 1.0,
                    NumInferenceSteps = 2,
                    Seed = 1,
                    OutputType = OutputType.Array,
                });
                return "generated";
            }
            catch (Exception ex) when (ex is ArgumentException or ModelLoadException or NonFiniteOutputException)
            {
                Assert.False(string.IsNullOrWhiteSpace(ex.Message));
                return "loaded";
            }
            catch (Exception ex)
            {
                Assert.Fail($"{what}: the folder loaded but generating threw {ex.GetType().FullName}: {ex.Message}");
                throw;
            }
        }
    }

    private static (string Text, string Description) Mutate(string json, string[] focus, System.Random random)
    {
        int kind = random.Next(10);
        if (kind == 0)
        {
            // Text-level damage: a cut, a stray byte, another top-level value.
            return random.Next(4) switch
            {
                0 => (json[..random.Next(json.Length)], "text cut short"),
                1 => (json.Insert(random.Next(json.Length), "\u0001"), "control character inserted"),
                2 => (new[] { "[]", "null", "42", "\"text\"", "", "{}" }[random.Next(6)], "top level replaced"),
                _ => ("\uFEFF" + json + "\n{}", "BOM and a second value"),
            };
        }
        var root = (JsonObject)JsonNode.Parse(json)!;
        (JsonNode? parent, string? key, int index) = PickSlot(root, focus, random);
        if (parent is null)
        {
            return (json, "unchanged (empty object)");
        }
        JsonNode? current = key is not null ? ((JsonObject)parent)[key] : ((JsonArray)parent)[index];
        string where = key ?? $"[{index}]";
        string description;
        if (kind == 1 && key is not null)
        {
            ((JsonObject)parent).Remove(key);
            description = $"removed '{where}'";
        }
        else
        {
            JsonNode? replacement = Replacement(current, random, out string what);
            if (key is not null)
            {
                ((JsonObject)parent)[key] = replacement;
            }
            else
            {
                ((JsonArray)parent)[index] = replacement;
            }
            description = $"'{where}' = {what}";
        }
        string text = root.ToJsonString();
        // JSON has no 1e400 or NaN; Python's json writes NaN/Infinity, and a hand-edited file may hold 1e400.
        text = text.Replace("\"__HUGE__\"", "1e400", StringComparison.Ordinal).Replace("\"__NAN__\"", "NaN", StringComparison.Ordinal)
            .Replace("\"__INF__\"", "-Infinity", StringComparison.Ordinal);
        return (text, description);
    }

    private static JsonNode? Replacement(JsonNode? current, System.Random random, out string what)
    {
        string[] kinds = ["string", "huge", "1e400", "NaN", "-Infinity", "negative", "zero", "fraction", "true", "null", "empty array", "empty object", "wrapped in array", "wrapped in object", "deep nesting", "long string", "2^63"];
        what = kinds[random.Next(kinds.Length)];
        return what switch
        {
            "string" => JsonValue.Create("x"),
            "huge" => JsonValue.Create(1e308),
            "1e400" => JsonValue.Create("__HUGE__"),
            "NaN" => JsonValue.Create("__NAN__"),
            "-Infinity" => JsonValue.Create("__INF__"),
            "negative" => JsonValue.Create(-7),
            "zero" => JsonValue.Create(0),
            "fraction" => JsonValue.Create(0.5),
            "true" => JsonValue.Create(true),
            "null" => null,
            "empty array" => new JsonArray(),
            "empty object" => new JsonObject(),
            "wrapped in array" => new JsonArray(current?.DeepClone()),
            "wrapped in object" => new JsonObject { ["value"] = current?.DeepClone() },
            "deep nesting" => Deep(20),
            "long string" => JsonValue.Create(new string('a', 100_000)),
            _ => JsonNode.Parse("9223372036854775808"),
        };

        static JsonNode Deep(int depth) => depth == 0 ? JsonValue.Create(1) : new JsonArray(Deep(depth - 1));
    }

    /// <summary>A random value slot (object property or array element) anywhere in the tree.</summary>
    private static (JsonNode? Parent, string? Key, int Index) PickSlot(JsonObject root, string[] focus, System.Random random)
    {
        var slots = new List<(JsonNode, string?, int)>();
        if (focus.Length == 0)
        {
            Collect(root);
        }
        else
        {
            foreach (string key in focus.Where(root.ContainsKey))
            {
                slots.Add((root, key, -1));
                if (root[key] is { } value)
                {
                    Collect(value);
                }
            }
        }
        return slots.Count == 0 ? (null, null, -1) : slots[random.Next(slots.Count)];

        void Collect(JsonNode node)
        {
            if (node is JsonObject obj)
            {
                foreach (KeyValuePair<string, JsonNode?> kv in obj)
                {
                    slots.Add((obj, kv.Key, -1));
                    if (kv.Value is not null)
                    {
                        Collect(kv.Value);
                    }
                }
            }
            else if (node is JsonArray arr)
            {
                for (int i = 0; i < arr.Count; i++)
                {
                    slots.Add((arr, null, i));
                    if (arr[i] is { } item)
                    {
                        Collect(item);
                    }
                }
            }
        }
    }
}
