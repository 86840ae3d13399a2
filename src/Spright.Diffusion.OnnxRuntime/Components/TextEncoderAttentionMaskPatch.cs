using System.Buffers.Binary;
using System.Text;

namespace Spright.Diffusion.OnnxRuntime.Components;

/// <summary>
/// Gives a CLIP text-encoder graph without an <c>attention_mask</c> input (optimum's export) one, with the meaning
/// transformers gives it: <c>(1 − mask)·finfo.min</c>, broadcast over the queries, added to the causal mask that
/// every attention layer adds to its scores. The causal-mask tensor is found as the one tensor every
/// <c>Softmax</c>'s input is the sum of (through Reshape/Cast). The file is not rewritten: the producer of that
/// tensor gets a new output name by a one-byte edit, and the new input, initializers and nodes are appended as a
/// second <c>graph</c> field, which protobuf merges into the first.
/// </summary>
internal static class TextEncoderAttentionMaskPatch
{
    /// <summary>The name of the added input (int64 [batch, sequence], 1 = attend, 0 = masked key).</summary>
    public const string InputName = "attention_mask";

    private const string Prefix = "spright_attention_mask/";

    /// <summary>Patches <paramref name="model"/> (a ModelProto), or returns why it cannot.</summary>
    /// <param name="model">The model bytes; one byte of it is edited in place.</param>
    /// <param name="patched">The bytes to load (the edited model followed by the appended graph field).</param>
    /// <returns><see langword="null"/> on success, else the reason.</returns>
    public static string? TryPatch(byte[] model, out byte[]? patched)
    {
        patched = null;
        GraphScan scan;
        try
        {
            scan = GraphScan.Read(model);
        }
        catch (FormatException ex)
        {
            return "the graph file is not a readable ONNX model (" + ex.Message + ")";
        }
        if (scan.Inputs.Contains(InputName))
        {
            return "the graph already has an attention_mask input";
        }
        var producers = new Dictionary<string, NodeInfo>(StringComparer.Ordinal);
        foreach (NodeInfo node in scan.Nodes)
        {
            foreach (StringRef output in node.Outputs)
            {
                producers[output.Value] = node;
            }
        }
        HashSet<string>? common = null;
        int softmaxes = 0;
        foreach (NodeInfo node in scan.Nodes.Where(n => n.OpType == "Softmax" && n.Inputs.Count > 0))
        {
            softmaxes++;
            string tensor = node.Inputs[0];
            NodeInfo? add = null;
            for (int hops = 0; hops < 8 && producers.TryGetValue(tensor, out NodeInfo? producer); hops++)
            {
                if (producer.OpType == "Add")
                {
                    add = producer;
                    break;
                }
                if (producer.OpType is not ("Reshape" or "Cast" or "Identity") || producer.Inputs.Count == 0)
                {
                    break;
                }
                tensor = producer.Inputs[0];
            }
            if (add is null)
            {
                return "an attention layer adds no mask to its scores";
            }
            var inputs = new HashSet<string>(add.Inputs, StringComparer.Ordinal);
            if (common is null)
            {
                common = inputs;
            }
            else
            {
                common.IntersectWith(inputs);
            }
        }
        if (softmaxes == 0 || common is null || common.Count != 1)
        {
            return "no causal-mask tensor shared by all attention layers was found";
        }
        string causal = common.First();
        if (!producers.TryGetValue(causal, out NodeInfo? maker))
        {
            return "the causal mask is not computed by a node";
        }
        StringRef target = maker.Outputs.First(o => o.Value == causal);
        var names = scan.AllNames;
        string? renamed = null;
        byte original = model[target.Offset + target.Length - 1];
        foreach (char c in "#$%&~^")
        {
            string candidate = causal[..^1] + c;
            if (Encoding.UTF8.GetByteCount(causal[..^1]) == target.Length - 1 && original < 0x80 && !names.Contains(candidate))
            {
                renamed = candidate;
                model[target.Offset + target.Length - 1] = (byte)c;
                break;
            }
        }
        if (renamed is null)
        {
            return "the causal-mask tensor cannot be renamed";
        }

        var graph = new ProtoWriter();
        // ReduceMin(causal) = finfo(dtype).min in the causal mask's own type; 0 of that type; where(mask == 0, min, 0).
        graph.Message(1, Node("ReduceMin", [renamed], [Prefix + "min"], Prefix + "ReduceMin", keepdims: 0));
        graph.Message(1, Node("Sub", [Prefix + "min", Prefix + "min"], [Prefix + "zero"], Prefix + "Sub"));
        graph.Message(1, Node("Equal", [InputName, Prefix + "zero_i64"], [Prefix + "is_masked"], Prefix + "Equal"));
        graph.Message(1, Node("Where", [Prefix + "is_masked", Prefix + "min", Prefix + "zero"], [Prefix + "padding"], Prefix + "Where"));
        graph.Message(1, Node("Reshape", [Prefix + "padding", Prefix + "shape"], [Prefix + "padding_4d"], Prefix + "Reshape"));
        graph.Message(1, Node("Add", [renamed, Prefix + "padding_4d"], [causal], Prefix + "Add"));
        graph.Message(5, Int64Tensor(Prefix + "zero_i64", [], [0]));
        graph.Message(5, Int64Tensor(Prefix + "shape", [4], [0, 1, 1, -1]));
        graph.Message(11, MaskInput());

        var extension = new ProtoWriter();
        extension.Message(7, graph);
        byte[] tail = extension.ToArray();
        patched = new byte[model.Length + tail.Length];
        model.CopyTo(patched, 0);
        tail.CopyTo(patched, model.Length);
        return null;
    }

    private static ProtoWriter Node(string op, string[] inputs, string[] outputs, string name, int? keepdims = null)
    {
        var node = new ProtoWriter();
        foreach (string i in inputs)
        {
            node.String(1, i);
        }
        foreach (string o in outputs)
        {
            node.String(2, o);
        }
        node.String(3, name);
        node.String(4, op);
        if (keepdims is int k)
        {
            var attribute = new ProtoWriter();
            attribute.String(1, "keepdims");
            attribute.Varint(3, (ulong)k);
            attribute.Varint(20, 2); // AttributeProto.INT
            node.Message(5, attribute);
        }
        return node;
    }

    private static ProtoWriter Int64Tensor(string name, long[] dims, long[] values)
    {
        var tensor = new ProtoWriter();
        foreach (long d in dims)
        {
            tensor.Varint(1, (ulong)d);
        }
        tensor.Varint(2, 7); // INT64
        var raw = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        }
        tensor.String(8, name);
        tensor.Bytes(9, raw);
        return tensor;
    }

    private static ProtoWriter MaskInput()
    {
        var shape = new ProtoWriter();
        foreach (string dim in new[] { "batch_size", "sequence_length" })
        {
            var d = new ProtoWriter();
            d.String(2, dim);
            shape.Message(1, d);
        }
        var tensorType = new ProtoWriter();
        tensorType.Varint(1, 7); // INT64
        tensorType.Message(2, shape);
        var type = new ProtoWriter();
        type.Message(1, tensorType);
        var valueInfo = new ProtoWriter();
        valueInfo.String(1, InputName);
        valueInfo.Message(2, type);
        return valueInfo;
    }

    private readonly record struct StringRef(string Value, int Offset, int Length);

    private sealed class NodeInfo
    {
        public string OpType { get; set; } = string.Empty;

        public List<string> Inputs { get; } = [];

        public List<StringRef> Outputs { get; } = [];
    }

    /// <summary>What the patch needs from a ModelProto: the nodes and every tensor name.</summary>
    private sealed class GraphScan
    {
        public List<NodeInfo> Nodes { get; } = [];

        public HashSet<string> Inputs { get; } = new(StringComparer.Ordinal);

        public HashSet<string> AllNames { get; } = new(StringComparer.Ordinal);

        public static GraphScan Read(byte[] model)
        {
            var scan = new GraphScan();
            bool sawGraph = false;
            var reader = new ProtoReader(model, 0, model.Length);
            while (reader.Next(out int field, out int wire))
            {
                if (field == 7 && wire == 2)
                {
                    (int start, int length) = reader.LengthDelimited();
                    scan.ReadGraph(model, start, length);
                    sawGraph = true;
                }
                else
                {
                    reader.Skip(wire);
                }
            }
            return sawGraph ? scan : throw new FormatException("no graph");
        }

        private void ReadGraph(byte[] data, int start, int length)
        {
            var reader = new ProtoReader(data, start, length);
            while (reader.Next(out int field, out int wire))
            {
                if (wire != 2)
                {
                    reader.Skip(wire);
                    continue;
                }
                (int s, int l) = reader.LengthDelimited();
                switch (field)
                {
                    case 1:
                        Nodes.Add(ReadNode(data, s, l));
                        break;
                    case 5:
                        AddName(data, s, l, 8);
                        break;
                    case 11:
                        Inputs.Add(AddName(data, s, l, 1) ?? string.Empty);
                        break;
                    case 12:
                    case 13:
                        AddName(data, s, l, 1);
                        break;
                }
            }
        }

        private NodeInfo ReadNode(byte[] data, int start, int length)
        {
            var node = new NodeInfo();
            var reader = new ProtoReader(data, start, length);
            while (reader.Next(out int field, out int wire))
            {
                if (wire != 2)
                {
                    reader.Skip(wire);
                    continue;
                }
                (int s, int l) = reader.LengthDelimited();
                string value = Encoding.UTF8.GetString(data, s, l);
                switch (field)
                {
                    case 1:
                        node.Inputs.Add(value);
                        AllNames.Add(value);
                        break;
                    case 2:
                        node.Outputs.Add(new StringRef(value, s, l));
                        AllNames.Add(value);
                        break;
                    case 4:
                        node.OpType = value;
                        break;
                }
            }
            return node;
        }

        private string? AddName(byte[] data, int start, int length, int nameField)
        {
            var reader = new ProtoReader(data, start, length);
            while (reader.Next(out int field, out int wire))
            {
                if (field == nameField && wire == 2)
                {
                    (int s, int l) = reader.LengthDelimited();
                    string name = Encoding.UTF8.GetString(data, s, l);
                    AllNames.Add(name);
                    return name;
                }
                reader.Skip(wire);
            }
            return null;
        }
    }

    /// <summary>Protobuf wire-format reading over a byte range.</summary>
    private ref struct ProtoReader(byte[] data, int start, int length)
    {
        private readonly byte[] _data = data;
        private readonly int _end = start + length;
        private int _position = start;

        public bool Next(out int field, out int wire)
        {
            if (_position >= _end)
            {
                field = 0;
                wire = 0;
                return false;
            }
            ulong key = Varint();
            field = (int)(key >> 3);
            wire = (int)(key & 7);
            return true;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_position >= _end)
                {
                    throw new FormatException("truncated varint");
                }
                byte b = _data[_position++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }
            throw new FormatException("bad varint");
        }

        public (int Start, int Length) LengthDelimited()
        {
            ulong length = Varint();
            if (length > (ulong)(_end - _position))
            {
                throw new FormatException("field longer than its message");
            }
            int s = _position;
            _position += (int)length;
            return (s, (int)length);
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0:
                    Varint();
                    break;
                case 1:
                    _position += 8;
                    break;
                case 2:
                    LengthDelimited();
                    break;
                case 5:
                    _position += 4;
                    break;
                default:
                    throw new FormatException($"unsupported wire type {wire}");
            }
            if (_position > _end)
            {
                throw new FormatException("truncated field");
            }
        }
    }

    /// <summary>Protobuf wire-format writing.</summary>
    private sealed class ProtoWriter
    {
        private readonly List<byte> _bytes = [];

        public void Varint(int field, ulong value)
        {
            WriteVarint(((ulong)field << 3) | 0);
            WriteVarint(value);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Bytes(int field, byte[] value)
        {
            WriteVarint(((ulong)field << 3) | 2);
            WriteVarint((ulong)value.Length);
            _bytes.AddRange(value);
        }

        public void Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => [.. _bytes];

        private void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.Add((byte)(value | 0x80));
                value >>= 7;
            }
            _bytes.Add((byte)value);
        }
    }
}
