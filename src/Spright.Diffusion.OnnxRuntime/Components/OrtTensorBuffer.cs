using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Float16 = Microsoft.ML.OnnxRuntime.Float16;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Spright.Diffusion.OnnxRuntime.Components;

/// <summary>
/// A preallocated, pinned tensor of one ONNX element type with an <see cref="OrtValue"/> over it, plus float32
/// conversions (float16 through <see cref="TensorPrimitives"/>). Reused across runs: no per-step allocation.
/// </summary>
internal sealed class OrtTensorBuffer : IDisposable
{
    private readonly float[]? _float;
    private readonly Float16[]? _half;
    private readonly double[]? _double;
    private readonly long[]? _long;
    private readonly int[]? _int;

    private OrtTensorBuffer(TensorElementType type, long[] shape, int length)
    {
        ElementType = type;
        Shape = shape;
        Length = length;
        switch (type)
        {
            case TensorElementType.Float:
                _float = new float[length];
                Value = OrtValue.CreateTensorValueFromMemory(_float, shape);
                break;
            case TensorElementType.Float16:
                _half = new Float16[length];
                Value = OrtValue.CreateTensorValueFromMemory(_half, shape);
                break;
            case TensorElementType.Double:
                _double = new double[length];
                Value = OrtValue.CreateTensorValueFromMemory(_double, shape);
                break;
            case TensorElementType.Int64:
                _long = new long[length];
                Value = OrtValue.CreateTensorValueFromMemory(_long, shape);
                break;
            case TensorElementType.Int32:
                _int = new int[length];
                Value = OrtValue.CreateTensorValueFromMemory(_int, shape);
                break;
            default:
                throw new NotSupportedException($"Tensor element type {type} is not supported.");
        }
    }

    /// <summary>The ONNX element type.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>The tensor shape.</summary>
    public long[] Shape { get; }

    /// <summary>The element count.</summary>
    public int Length { get; }

    /// <summary>The ONNX Runtime value over the buffer.</summary>
    public OrtValue Value { get; }

    /// <summary>Whether the buffer is float32 (so <see cref="FloatSpan"/> is the tensor itself).</summary>
    public bool IsFloat => _float is not null;

    /// <summary>The float32 elements (only for float32 buffers).</summary>
    public Span<float> FloatSpan => _float ?? throw new InvalidOperationException($"The buffer holds {ElementType}, not float32.");

    /// <summary>Allocates a buffer.</summary>
    public static OrtTensorBuffer Create(TensorElementType type, params long[] shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            count = checked(count * d);
        }
        return new OrtTensorBuffer(type, shape, checked((int)count));
    }

    /// <summary>A new <see cref="OrtValue"/> over items [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>)
    /// of the first axis, sharing this buffer's memory (no copy). The caller disposes it before this buffer.</summary>
    public OrtValue Slice(int start, int count)
    {
        if (Shape.Length == 0 || start < 0 || count <= 0 || start + count > Shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Items [{start}, {start + count}) are outside the first axis of [{string.Join(", ", Shape)}].");
        }
        long[] shape = (long[])Shape.Clone();
        shape[0] = count;
        int per = Shape[0] == 0 ? 0 : checked((int)(Length / Shape[0]));
        int offset = start * per, length = count * per;
        OrtMemoryInfo cpu = OrtMemoryInfo.DefaultInstance;
        return ElementType switch
        {
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<float>(_float, offset, length), shape),
            TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<Float16>(_half, offset, length), shape),
            TensorElementType.Double => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<double>(_double, offset, length), shape),
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<long>(_long, offset, length), shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<int>(_int, offset, length), shape),
            _ => throw new NotSupportedException($"Tensor element type {ElementType} is not supported."),
        };
    }

    /// <summary>Writes float32 values, converting to the buffer's element type (integers truncate toward zero, as numpy's astype).</summary>
    public void Write(ReadOnlySpan<float> source)
    {
        if (source.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} values, got {source.Length}.", nameof(source));
        }
        switch (ElementType)
        {
            case TensorElementType.Float:
                source.CopyTo(_float);
                break;
            case TensorElementType.Float16:
                TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<Float16, Half>(_half.AsSpan()));
                break;
            case TensorElementType.Double:
                for (int i = 0; i < source.Length; i++)
                {
                    _double![i] = source[i];
                }
                break;
            case TensorElementType.Int64:
                for (int i = 0; i < source.Length; i++)
                {
                    _long![i] = (long)source[i];
                }
                break;
            case TensorElementType.Int32:
                for (int i = 0; i < source.Length; i++)
                {
                    _int![i] = (int)source[i];
                }
                break;
        }
    }

    /// <summary>Fills every element with one float32 value (converted).</summary>
    public void Fill(float value)
    {
        switch (ElementType)
        {
            case TensorElementType.Float:
                _float.AsSpan().Fill(value);
                break;
            case TensorElementType.Float16:
                MemoryMarshal.Cast<Float16, Half>(_half.AsSpan()).Fill((Half)value);
                break;
            case TensorElementType.Double:
                _double.AsSpan().Fill(value);
                break;
            case TensorElementType.Int64:
                _long.AsSpan().Fill((long)value);
                break;
            case TensorElementType.Int32:
                _int.AsSpan().Fill((int)value);
                break;
        }
    }

    /// <summary>Writes integer ids (only for int32/int64 buffers).</summary>
    public void WriteIds(ReadOnlySpan<int> ids)
    {
        if (ids.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} ids, got {ids.Length}.", nameof(ids));
        }
        if (_int is not null)
        {
            ids.CopyTo(_int);
        }
        else if (_long is not null)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                _long[i] = ids[i];
            }
        }
        else
        {
            throw new InvalidOperationException($"The buffer holds {ElementType}, not integers.");
        }
    }

    /// <summary>Reads the elements as float32.</summary>
    public void Read(Span<float> destination)
    {
        if (destination.Length != Length)
        {
            throw new ArgumentException($"Expected room for {Length} values, got {destination.Length}.", nameof(destination));
        }
        ReadValue(Value, ElementType, destination);
    }

    /// <summary>Reads any float32/float16/double tensor value into float32.</summary>
    public static void ReadValue(OrtValue value, TensorElementType type, Span<float> destination)
    {
        switch (type)
        {
            case TensorElementType.Float:
                value.GetTensorDataAsSpan<float>().CopyTo(destination);
                break;
            case TensorElementType.Float16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<Float16, Half>(value.GetTensorDataAsSpan<Float16>()), destination);
                break;
            case TensorElementType.Double:
                {
                    ReadOnlySpan<double> d = value.GetTensorDataAsSpan<double>();
                    for (int i = 0; i < destination.Length; i++)
                    {
                        destination[i] = (float)d[i];
                    }
                    break;
                }
            default:
                throw new NotSupportedException($"Cannot read {type} as float32.");
        }
    }

    /// <inheritdoc />
    public void Dispose() => Value.Dispose();
}
