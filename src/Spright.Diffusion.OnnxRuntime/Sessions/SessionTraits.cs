namespace Spright.Diffusion.OnnxRuntime.Sessions;

/// <summary>How a session runs, as created.</summary>
/// <param name="Provider">The execution provider.</param>
/// <param name="CpuArena">Whether it allocates through ONNX Runtime's CPU arena (arena shrinkage may be requested).</param>
/// <param name="SingleThreadedCpu">Whether it runs on the CPU with one intra-op thread (independent runs may then go
/// side by side on the other cores).</param>
/// <param name="SmallGraph">Whether the graph with its weights is under <see cref="SessionOptionsFactory.SmallGraphBytes"/>.</param>
internal readonly record struct SessionTraits(ExecutionProvider Provider, bool CpuArena, bool SingleThreadedCpu, bool SmallGraph);
