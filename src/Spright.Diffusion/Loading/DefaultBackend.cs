using System.Diagnostics.CodeAnalysis;
using Spright.Diffusion.Components;

namespace Spright.Diffusion.Loading;

/// <summary>
/// Finds the backend used when <see cref="DiffusionPipelineOptions.Backend"/> is not set: the ONNX Runtime backend of the
/// <c>Spright.Diffusion.OnnxRuntime</c> package, when the app references it (the core cannot reference it itself: the
/// dependency points the other way). Trimmed apps should set the backend explicitly.
/// </summary>
internal static class DefaultBackend
{
    private const string TypeName = "Spright.Diffusion.OnnxRuntime.OnnxRuntimeBackend, Spright.Diffusion.OnnxRuntime";

    private static readonly Lazy<IComponentLoader?> Instance = new(Discover);

    /// <summary>The discovered backend.</summary>
    /// <exception cref="InvalidOperationException">No backend package is referenced.</exception>
    public static IComponentLoader Get() => Instance.Value ?? throw new InvalidOperationException(
        "No backend is available: add the Spright.Diffusion.OnnxRuntime package to the app (and one native ONNX Runtime package), " +
        "or set DiffusionPipelineOptions.Backend.");

    [UnconditionalSuppressMessage("Trimming", "IL2057", Justification = "Documented: trimmed apps set DiffusionPipelineOptions.Backend.")]
    [UnconditionalSuppressMessage("Trimming", "IL2072", Justification = "Documented: trimmed apps set DiffusionPipelineOptions.Backend.")]
    private static IComponentLoader? Discover()
    {
        Type? type;
        try
        {
            type = Type.GetType(TypeName, throwOnError: false);
        }
        catch (IOException)
        {
            return null;
        }
        catch (BadImageFormatException)
        {
            return null;
        }
        return type is null ? null : Activator.CreateInstance(type) as IComponentLoader;
    }
}
