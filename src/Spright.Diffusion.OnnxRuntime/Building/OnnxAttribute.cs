namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>A node attribute (<c>AttributeProto</c>), serialized on creation.</summary>
internal sealed class OnnxAttribute
{
    private OnnxAttribute(string name, ProtoBuffer proto)
    {
        Name = name;
        Proto = proto;
    }

    /// <summary>The attribute's name.</summary>
    public string Name { get; }

    /// <summary>The serialized <c>AttributeProto</c>.</summary>
    public ProtoBuffer Proto { get; }

    /// <summary>An <c>INT</c> attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new(name, new ProtoBuffer().String(1, name).Varint(20, 2).Varint(3, value));

    /// <summary>A <c>FLOAT</c> attribute.</summary>
    public static OnnxAttribute Float(string name, float value) => new(name, new ProtoBuffer().String(1, name).Varint(20, 1).Float(2, value));

    /// <summary>A <c>STRING</c> attribute.</summary>
    public static OnnxAttribute String(string name, string value) => new(name, new ProtoBuffer().String(1, name).Varint(20, 3).String(4, value));

    /// <summary>An <c>INTS</c> attribute.</summary>
    public static OnnxAttribute Ints(string name, params long[] values) => new(name, new ProtoBuffer().String(1, name).Varint(20, 7).PackedVarints(8, values));

    /// <summary>A <c>FLOATS</c> attribute.</summary>
    public static OnnxAttribute Floats(string name, params float[] values) => new(name, new ProtoBuffer().String(1, name).Varint(20, 6).PackedFloats(7, values));

    /// <summary>A <c>TENSOR</c> attribute (e.g. <c>ConstantOfShape</c>'s value).</summary>
    public static OnnxAttribute Tensor(string name, ProtoBuffer tensor) => new(name, new ProtoBuffer().String(1, name).Varint(20, 4).Message(5, tensor));
}
