using System.Text.Json.Nodes;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>One way to break a model folder, the file the error must name and words its problem must contain.</summary>
/// <param name="Name">The case name.</param>
/// <param name="Break">Breaks a private copy of the tiny model.</param>
/// <param name="Culprit">The file or folder (relative to the model folder) the error must name.</param>
/// <param name="Words">Words the problem text must contain (case-insensitive).</param>
internal sealed record BrokenModel(string Name, Action<TempModelFolder> Break, string Culprit, params string[] Words)
{
    public override string ToString() => Name;
}

/// <summary>The catalogue of broken model folders shared by the library and CLI tests.</summary>
internal static class BrokenModels
{
    public static readonly BrokenModel[] All =
    [
        // model_index.json
        new("index missing", m => m.Delete("model_index.json"), "model_index.json", "not found"),
        new("index not JSON", m => m.WriteText("model_index.json", "{ \"_class_name\": "), "model_index.json", "invalid JSON"),
        new("index is an array", m => m.WriteText("model_index.json", "[1, 2]"), "model_index.json", "object"),
        new("index without class name", m => m.EditJson("model_index.json", o => o.Remove("_class_name")), "model_index.json", "_class_name", "missing"),
        new("index class name is a number", m => m.EditJson("model_index.json", o => o["_class_name"] = 42), "model_index.json", "_class_name", "string"),
        new("index names an unsupported pipeline", m => m.EditJson("model_index.json", o => o["_class_name"] = "StableDiffusionXLPipeline"), "model_index.json", "StableDiffusionXLPipeline", "not supported"),
        new("index component escapes with ..", m => m.EditJson("model_index.json", o => o["../outside"] = Pair("diffusers", "UNet2DConditionModel")), "model_index.json", "../outside"),
        new("index component is an absolute path", m => m.EditJson("model_index.json", o => o["/etc"] = Pair("diffusers", "UNet2DConditionModel")), "model_index.json", "/etc"),
        new("index component is a triple", m => m.EditJson("model_index.json", o => o["unet"] = new JsonArray("diffusers", "UNet2DConditionModel", "x")), "model_index.json", "unet", "pair"),
        new("index component class is an object", m => m.EditJson("model_index.json", o => o["unet"] = new JsonArray("diffusers", new JsonObject { ["a"] = 1 })), "model_index.json", "unet"),
        new("index without unet", m => m.EditJson("model_index.json", o => o.Remove("unet")), "model_index.json", "unet"),
        new("index too deep", m => m.WriteText("model_index.json", new string('[', 5000) + new string(']', 5000)), "model_index.json", "JSON"),
        new("index of 1 GB", m => m.Inflate("model_index.json", 1L << 30), "model_index.json", "bytes"),
        new("index component name with a separator", m => m.EditJson("model_index.json", o => o["sub/unet"] = Pair("diffusers", "UNet2DConditionModel")), "model_index.json", "sub/unet"),
        new("index component name with a NUL", m => m.EditJson("model_index.json", o => o["un\0et"] = Pair("diffusers", "UNet2DConditionModel")), "model_index.json", "plain folder name"),
        new("index names an unknown scheduler", m => m.EditJson("model_index.json", o => o["scheduler"] = Pair("diffusers", "FancyScheduler")), "model_index.json", "FancyScheduler", "not supported"),

        // scheduler
        new("scheduler config missing", m => m.Delete("scheduler/scheduler_config.json"), "scheduler/scheduler_config.json", "not found"),
        new("scheduler folder missing", m => m.Delete("scheduler"), "scheduler", "missing"),
        new("scheduler config huge number", m => m.EditJson("scheduler/scheduler_config.json", o => o["num_train_timesteps"] = JsonNode.Parse("1e300")), "scheduler/scheduler_config.json", "num_train_timesteps"),
        new("scheduler config nested object", m => m.EditJson("scheduler/scheduler_config.json", o => o["beta_schedule"] = new JsonObject { ["x"] = new JsonObject { ["y"] = 1 } }), "scheduler/scheduler_config.json", "beta_schedule"),
        new("scheduler config string for number", m => m.EditJson("scheduler/scheduler_config.json", o => o["beta_start"] = "small"), "scheduler/scheduler_config.json", "beta_start"),
        new("scheduler config trained betas of the wrong length", m => m.EditJson("scheduler/scheduler_config.json", o => o["trained_betas"] = new JsonArray(0.1, 0.2)), "scheduler/scheduler_config.json", "trained_betas"),
        new("scheduler config is a link to an endless device", m => LinkToDevice(m, "scheduler/scheduler_config.json", "/dev/zero"), "scheduler/scheduler_config.json", OperatingSystem.IsWindows() ? "bytes" : "outside the model folder"),
        new("scheduler config is a FIFO", m => MakeFifo(m, "scheduler/scheduler_config.json"), "scheduler/scheduler_config.json", OperatingSystem.IsWindows() ? "bytes" : "not a regular file"),
        new("scheduler config of 1 GB", m => m.Inflate("scheduler/scheduler_config.json", 1L << 30), "scheduler/scheduler_config.json", "bytes"),

        // tokenizer
        new("tokenizer vocab missing", m => m.Delete("tokenizer/vocab.json"), "tokenizer/vocab.json", "not found"),
        new("tokenizer merges empty", m => m.WriteText("tokenizer/merges.txt", ""), "tokenizer/merges.txt", "merges"),
        new("tokenizer config not JSON", m => m.WriteText("tokenizer/tokenizer_config.json", "{ model_max_length: 77 }"), "tokenizer/tokenizer_config.json", "JSON"),
        new("tokenizer max length is a string", m => m.EditJson("tokenizer/tokenizer_config.json", o => o["model_max_length"] = "77"), "tokenizer/tokenizer_config.json", "model_max_length"),
        new("tokenizer max length is huge", m => m.EditJson("tokenizer/tokenizer_config.json", o => o["model_max_length"] = int.MaxValue), "tokenizer/tokenizer_config.json", "model_max_length"),
        new("tokenizer longer than the text encoder's positions", m => m.EditJson("tokenizer/tokenizer_config.json", o => o["model_max_length"] = 100), "tokenizer/tokenizer_config.json", "model_max_length", "77"),
        new("tokenizer vocab ids are strings", m => m.WriteText("tokenizer/vocab.json", "{\"a\": \"1\"}"), "tokenizer/vocab.json", "id"),

        // text encoder
        new("text encoder graph missing", m => m.Delete("text_encoder/model.onnx"), "text_encoder/model.onnx", "missing"),
        new("text encoder graph truncated", m => m.Truncate("text_encoder/model.onnx", 0.5), "text_encoder/model.onnx", "text_encoder"),
        new("text encoder graph empty", m => m.WriteBytes("text_encoder/model.onnx", []), "text_encoder/model.onnx", "text_encoder"),
        new("text encoder graph is garbage", m => m.WriteBytes("text_encoder/model.onnx", Garbage(4096)), "text_encoder/model.onnx", "text_encoder"),
        new("text encoder folder holds the VAE decoder graph", m => m.Copy("vae_decoder/model.onnx", "text_encoder/model.onnx"), "text_encoder/model.onnx", "input"),
        new("text encoder hidden size disagrees with its graph", m => m.EditJson("text_encoder/config.json", o => o["hidden_size"] = 64), "text_encoder/config.json", "hidden_size"),
        new("text encoder graph of another width than the UNet", m => { m.WriteBytes("text_encoder/model.onnx", OnnxTestGraphs.TextEncoder(48)); m.EditJson("text_encoder/config.json", o => o["hidden_size"] = 48); }, "unet/model.onnx", "32", "48"),
        new("text encoder vocab_size smaller than the tokenizer's", m => m.EditJson("text_encoder/config.json", o => o["vocab_size"] = 1000), "tokenizer/vocab.json", "vocab_size", "1000"),
        new("text encoder config is an array", m => m.WriteText("text_encoder/config.json", "[]"), "text_encoder/config.json", "object"),

        // UNet
        new("unet folder missing", m => m.Delete("unet"), "unet", "missing"),
        new("unet graph truncated", m => m.Truncate("unet/model.onnx", 0.3), "unet/model.onnx", "unet"),
        new("unet graph is a link to an endless device", m => LinkToDevice(m, "unet/model.onnx", "/dev/zero"), "unet/model.onnx", OperatingSystem.IsWindows() ? "unet" : "outside the model folder"),
        new("unet external weights are a FIFO", m => MakeFifo(m, "unet/model.onnx_data"), "unet/model.onnx_data", OperatingSystem.IsWindows() ? "bytes" : "not a regular file"),
        new("unet folder is a link out of the model folder", m => LinkOut(m, "unet"), "unet", OperatingSystem.IsWindows() ? "external" : "outside the model folder"),
        new("unet external weights missing", m => m.Delete("unet/model.onnx_data"), "unet/model.onnx", "external"),
        new("unet external weights truncated", m => m.Truncate("unet/model.onnx_data", 0.5), "unet/model.onnx", "external"),
        new("unet folder holds the text encoder graph", m => m.Copy("text_encoder/model.onnx", "unet/model.onnx"), "unet/model.onnx", "input"),
        new("unet in_channels is a string", m => m.EditJson("unet/config.json", o => o["in_channels"] = "four"), "unet/config.json", "in_channels"),
        new("unet in_channels disagrees with the graph", m => m.EditJson("unet/config.json", o => o["in_channels"] = 9), "unet/config.json", "in_channels"),
        new("unet sample_size negative", m => m.EditJson("unet/config.json", o => o["sample_size"] = -16), "unet/config.json", "sample_size"),
        new("unet block_out_channels nested", m => m.EditJson("unet/config.json", o => o["block_out_channels"] = new JsonArray(new JsonArray(32), 64)), "unet/config.json", "block_out_channels"),
        new("unet cross_attention_dim disagrees with the graph", m => m.EditJson("unet/config.json", o => o["cross_attention_dim"] = 1024), "unet/config.json", "cross_attention_dim"),
        new("unet config of 1 GB", m => m.Inflate("unet/config.json", 1L << 30), "unet/config.json", "bytes"),

        // VAE
        new("vae decoder folder missing", m => m.Delete("vae_decoder"), "vae_decoder", "missing"),
        new("vae decoder graph garbage", m => m.WriteBytes("vae_decoder/model.onnx", Garbage(100_000)), "vae_decoder/model.onnx", "vae_decoder"),
        new("vae scaling factor is a string", m => m.EditJson("vae_decoder/config.json", o => o["scaling_factor"] = "0.18"), "vae_decoder/config.json", "scaling_factor"),
        new("vae scaling factor huge", m => m.EditJson("vae_decoder/config.json", o => o["scaling_factor"] = JsonNode.Parse("1e308")), "vae_decoder/config.json", "scaling_factor"),
        new("vae block_out_channels empty", m => m.EditJson("vae_decoder/config.json", o => o["block_out_channels"] = new JsonArray()), "vae_decoder/config.json", "block_out_channels"),
        new("vae latent channels disagree with the UNet", m => m.EditJson("vae_decoder/config.json", o => o["latent_channels"] = 8), "vae_decoder/config.json", "latent"),
        new("vae decoder folder holds the encoder graph", m => m.Copy("vae_encoder/model.onnx", "vae_decoder/model.onnx"), "vae_decoder/model.onnx", "vae_decoder"),
    ];

    public static BrokenModel Get(string name) => All.Single(c => c.Name == name);

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (BrokenModel c in All)
        {
            data.Add(c.Name);
        }
        return data;
    }

    /// <summary>Replaces a file by a symbolic link to a device that never ends (on Windows, where links need rights,
    /// by a file that claims to be small but is not: the same case for the reader).</summary>
    private static void LinkToDevice(TempModelFolder m, string relative, string device)
    {
        m.Delete(relative);
        if (OperatingSystem.IsWindows())
        {
            m.Inflate(relative, 1L << 30);
        }
        else
        {
            File.CreateSymbolicLink(m.File(relative), device);
        }
    }

    /// <summary>Replaces a file by a FIFO (on Windows, where there are none, by a file that claims to be small but is not).</summary>
    private static void MakeFifo(TempModelFolder m, string relative)
    {
        m.Delete(relative);
        if (OperatingSystem.IsWindows())
        {
            m.Inflate(relative, 1L << 30);
        }
        else
        {
            ImageInputLimitTests.MakeFifo(m.File(relative));
        }
    }

    /// <summary>Moves a component folder out of the model folder and leaves a symbolic link to it (on Windows, where
    /// links need rights, deletes the external weights instead).</summary>
    private static void LinkOut(TempModelFolder m, string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            m.Delete("unet/model.onnx_data");
            return;
        }
        // Beside the model folder, inside the test's temporary folder (removed with it).
        string moved = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(m.Path))!, folder + "-outside");
        Directory.Move(m.File(folder), moved);
        Directory.CreateSymbolicLink(m.File(folder), moved);
    }

    private static JsonArray Pair(string library, string className) => new(library, className);

    private static byte[] Garbage(int length)
    {
        var bytes = new byte[length];
        new System.Random(1234).NextBytes(bytes);
        return bytes;
    }
}
