namespace Spright.Diffusion.OnnxRuntime.Safetensors;

/// <summary>One tensor of a validated safetensors file: where its bytes lie in the file and what they hold.</summary>
/// <param name="Name">The tensor's key in the header.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions (empty for a scalar).</param>
/// <param name="FileOffset">Absolute byte offset of the data in the file (8 + header length + <c>data_offsets[0]</c>).</param>
/// <param name="ByteLength">Length of the data in bytes (= element count × element size, checked).</param>
internal sealed record SafetensorsTensor(string Name, SafetensorsDType DType, long[] Shape, long FileOffset, long ByteLength)
{
    /// <summary>The number of elements.</summary>
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (long d in Shape)
            {
                count *= d;
            }
            return count;
        }
    }

    /// <summary>The shape as <c>[a, b, c]</c>.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Formats a shape as <c>[a, b, c]</c>.</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
