using SixLabors.ImageSharp;
using Spright.Diffusion;

// The README's hello world. The model folder is the first argument (e.g. spright-t2i-sd2-onnx, exported as the README
// says); without one, the tiny random-weight model copied next to this program (expect colourful noise, not a kitten).
string modelPath = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "models", "tiny-sd2");

using var pipe = DiffusionPipeline.FromPretrained(modelPath);
var output = pipe.Generate("a cute kitten is sitting in a dish on a table");
output.Images[0].SaveAsPng("kitten.png");
