using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Spright.Diffusion.Numerics;

/// <summary>
/// Helpers between dense <see cref="Tensor{T}"/> values (the public currency of the library) and the flat
/// spans the hot loop works on.
/// </summary>
internal static class TensorShapes
{
    /// <summary>Wraps <paramref name="data"/> (no copy) as a dense tensor of the given shape.</summary>
    /// <param name="data">The row-major (C order) elements.</param>
    /// <param name="shape">The tensor shape; its product must equal <c>data.Length</c>.</param>
    /// <returns>A tensor that shares <paramref name="data"/>.</returns>
    public static Tensor<float> Wrap(float[] data, params ReadOnlySpan<int> shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        long count = ElementCount(shape, nameof(shape));
        if (count != data.Length)
        {
            throw new ArgumentException($"Shape [{string.Join(", ", shape.ToArray())}] holds {count} elements but the buffer has {data.Length}.", nameof(shape));
        }

        Span<nint> lengths = stackalloc nint[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            lengths[i] = shape[i];
        }
        return Tensor.Create(data, lengths);
    }

    /// <summary>Creates a zero-filled dense tensor.</summary>
    /// <param name="shape">The tensor shape.</param>
    /// <returns>A new tensor.</returns>
    public static Tensor<float> Zeros(params ReadOnlySpan<int> shape) => Wrap(new float[ElementCount(shape, nameof(shape))], shape);

    /// <summary>The number of elements of a shape, validated (no negative dimension, fits in an array).</summary>
    /// <param name="shape">The shape.</param>
    /// <param name="paramName">The argument name to report.</param>
    /// <returns>The product of the dimensions.</returns>
    public static int ElementCount(ReadOnlySpan<int> shape, string paramName)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentOutOfRangeException(paramName, d, "Tensor dimensions must be zero or positive.");
            }
            count *= d;
            if (count > Array.MaxLength)
            {
                throw new ArgumentOutOfRangeException(paramName, count, $"A tensor may hold at most {Array.MaxLength} elements.");
            }
        }
        return (int)count;
    }

    /// <summary>The shape of a tensor as <see cref="int"/> dimensions.</summary>
    /// <param name="tensor">The tensor.</param>
    /// <returns>A new array with one entry per dimension.</returns>
    public static int[] Shape<T>(this Tensor<T> tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ReadOnlySpan<nint> lengths = tensor.Lengths;
        var shape = new int[lengths.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            shape[i] = checked((int)lengths[i]);
        }
        return shape;
    }

    /// <summary>The elements of a dense tensor as a span (row-major), without copying.</summary>
    /// <param name="tensor">A dense tensor (as every tensor this library creates is).</param>
    /// <returns>A span over the tensor's memory.</returns>
    /// <exception cref="ArgumentException">The tensor is not dense (a strided view).</exception>
    public static Span<T> AsSpan<T>(this Tensor<T> tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!tensor.IsDense)
        {
            throw new ArgumentException("The tensor must be dense (contiguous, row-major); copy it with Tensor.Create first.", nameof(tensor));
        }
        if (tensor.FlattenedLength == 0)
        {
            return Span<T>.Empty;
        }
        return MemoryMarshal.CreateSpan(ref tensor.GetPinnableReference(), checked((int)tensor.FlattenedLength));
    }

    /// <summary>Copies a tensor's elements into a new dense tensor of the same shape.</summary>
    /// <param name="tensor">The source.</param>
    /// <returns>An independent dense copy.</returns>
    public static Tensor<float> CloneDense(this Tensor<float> tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var data = new float[checked((int)tensor.FlattenedLength)];
        if (tensor.IsDense)
        {
            tensor.AsSpan().CopyTo(data);
        }
        else
        {
            tensor.FlattenTo(data);
        }
        return Wrap(data, tensor.Shape());
    }
}
