namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>ONNX <c>TensorProto.DataType</c> values used by the builders.</summary>
internal enum OnnxElementType
{
    /// <summary>float32.</summary>
    Float = 1,

    /// <summary>uint8.</summary>
    UInt8 = 2,

    /// <summary>int8.</summary>
    Int8 = 3,

    /// <summary>int32.</summary>
    Int32 = 6,

    /// <summary>int64.</summary>
    Int64 = 7,

    /// <summary>bool.</summary>
    Bool = 9,

    /// <summary>float16.</summary>
    Float16 = 10,

    /// <summary>float64.</summary>
    Double = 11,

    /// <summary>bfloat16.</summary>
    BFloat16 = 16,
}

/// <summary>Sizes of <see cref="OnnxElementType"/>.</summary>
internal static class OnnxElementTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(OnnxElementType type) => type switch
    {
        OnnxElementType.Float or OnnxElementType.Int32 => 4,
        OnnxElementType.Int64 or OnnxElementType.Double => 8,
        OnnxElementType.Float16 or OnnxElementType.BFloat16 => 2,
        _ => 1,
    };
}
