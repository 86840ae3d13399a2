namespace Spright.Diffusion.OnnxRuntime;

/// <summary>Where ONNX Runtime runs the models. The app chooses the native package that provides it.</summary>
public enum ExecutionProvider
{
    /// <summary>The CPU provider (package Microsoft.ML.OnnxRuntime).</summary>
    Cpu,

    /// <summary>NVIDIA CUDA (package Microsoft.ML.OnnxRuntime.Gpu; CUDA 13 and cuDNN 9 installed).</summary>
    Cuda,

    /// <summary>DirectML on Windows (package Microsoft.ML.OnnxRuntime.DirectML).</summary>
    DirectML,

    /// <summary>The best provider the loaded native library offers: CUDA, then DirectML, then CPU.</summary>
    Auto,
}
