namespace Spright.Diffusion.OnnxRuntime.Safetensors;

/// <summary>The element types a safetensors header can name (the format's own spelling in <see cref="SafetensorsDTypes.TryParse"/>).</summary>
internal enum SafetensorsDType
{
    /// <summary>IEEE float32 (<c>F32</c>).</summary>
    F32,

    /// <summary>IEEE float16 (<c>F16</c>).</summary>
    F16,

    /// <summary>bfloat16 (<c>BF16</c>).</summary>
    BF16,

    /// <summary>float64 (<c>F64</c>).</summary>
    F64,

    /// <summary>int64 (<c>I64</c>).</summary>
    I64,

    /// <summary>int32 (<c>I32</c>).</summary>
    I32,

    /// <summary>int16 (<c>I16</c>).</summary>
    I16,

    /// <summary>int8 (<c>I8</c>).</summary>
    I8,

    /// <summary>uint8 (<c>U8</c>).</summary>
    U8,

    /// <summary>uint16 (<c>U16</c>).</summary>
    U16,

    /// <summary>uint32 (<c>U32</c>).</summary>
    U32,

    /// <summary>uint64 (<c>U64</c>).</summary>
    U64,

    /// <summary>bool, one byte each (<c>BOOL</c>).</summary>
    Bool,

    /// <summary>float8 e4m3 (<c>F8_E4M3</c>).</summary>
    F8E4M3,

    /// <summary>float8 e5m2 (<c>F8_E5M2</c>).</summary>
    F8E5M2,
}

/// <summary>Names and sizes of <see cref="SafetensorsDType"/>.</summary>
internal static class SafetensorsDTypes
{
    /// <summary>Parses the header's dtype string; <see langword="false"/> for a name the format does not define.</summary>
    public static bool TryParse(string name, out SafetensorsDType dtype)
    {
        (bool ok, dtype) = name switch
        {
            "F32" => (true, SafetensorsDType.F32),
            "F16" => (true, SafetensorsDType.F16),
            "BF16" => (true, SafetensorsDType.BF16),
            "F64" => (true, SafetensorsDType.F64),
            "I64" => (true, SafetensorsDType.I64),
            "I32" => (true, SafetensorsDType.I32),
            "I16" => (true, SafetensorsDType.I16),
            "I8" => (true, SafetensorsDType.I8),
            "U8" => (true, SafetensorsDType.U8),
            "U16" => (true, SafetensorsDType.U16),
            "U32" => (true, SafetensorsDType.U32),
            "U64" => (true, SafetensorsDType.U64),
            "BOOL" => (true, SafetensorsDType.Bool),
            "F8_E4M3" => (true, SafetensorsDType.F8E4M3),
            "F8_E5M2" => (true, SafetensorsDType.F8E5M2),
            _ => (false, SafetensorsDType.F32),
        };
        return ok;
    }

    /// <summary>The header spelling of <paramref name="dtype"/>.</summary>
    public static string Name(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => "F32",
        SafetensorsDType.F16 => "F16",
        SafetensorsDType.BF16 => "BF16",
        SafetensorsDType.F64 => "F64",
        SafetensorsDType.I64 => "I64",
        SafetensorsDType.I32 => "I32",
        SafetensorsDType.I16 => "I16",
        SafetensorsDType.I8 => "I8",
        SafetensorsDType.U8 => "U8",
        SafetensorsDType.U16 => "U16",
        SafetensorsDType.U32 => "U32",
        SafetensorsDType.U64 => "U64",
        SafetensorsDType.Bool => "BOOL",
        SafetensorsDType.F8E4M3 => "F8_E4M3",
        SafetensorsDType.F8E5M2 => "F8_E5M2",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Bytes per element.</summary>
    public static int Size(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 or SafetensorsDType.U64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 or SafetensorsDType.U32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 or SafetensorsDType.U16 => 2,
        _ => 1,
    };

    /// <summary>Whether the graph builders can use tensors of this type as weights (F32, F16, BF16).</summary>
    public static bool IsSupportedFloat(SafetensorsDType dtype) => dtype is SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16;
}
