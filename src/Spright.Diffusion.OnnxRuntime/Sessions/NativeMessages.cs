namespace Spright.Diffusion.OnnxRuntime.Sessions;

/// <summary>Turns ONNX Runtime's native error text into one readable line.</summary>
internal static partial class NativeMessages
{
    /// <summary>
    /// ONNX Runtime's messages carry an error code, the path again, C++ source locations and signatures
    /// (<c>[ErrorCode:Fail] Exception during initialization: /onnxruntime_src/…/initializer.cc:79 onnxruntime::Initializer::Initializer(…) …</c>);
    /// the reason at the end is what a user needs.
    /// </summary>
    public static string Shorten(string message, string path)
    {
        string shortened = message.Replace($"Load model from {path} failed:", string.Empty, StringComparison.Ordinal);
        shortened = NativeNoise().Replace(shortened, " ");
        shortened = string.Join(' ', shortened.Split([' ', '\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)).Trim(' ', ':');
        return shortened.Length > 0 ? shortened : message;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\[ErrorCode:\w+\]|\[ONNXRuntimeError\] : \d+ : \w+ :|Exception during initialization:|[\w/.\-]+\.(?:cc|cpp|h):\d+(?: [\w:~]+(?:\([^)]*\))?(?= ))?")]
    private static partial System.Text.RegularExpressions.Regex NativeNoise();
}
