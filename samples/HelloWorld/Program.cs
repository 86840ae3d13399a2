using Spright.Diffusion;

// The README's hello world. The model is the first argument (a diffusers folder, an ONNX export or a Hub repo id such as
// SPRIGHT-T2I/spright-t2i-sd2); without one, the tiny random-weight model copied next to this program (expect colourful
// noise, not a kitten).
string model = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "models", "tiny-sd2");

using var pipe = DiffusionPipeline.FromPretrained(model);
var output = pipe.Generate("a cute kitten is sitting in a dish on a table");
output.Images[0].SaveAsPng("kitten.png");
