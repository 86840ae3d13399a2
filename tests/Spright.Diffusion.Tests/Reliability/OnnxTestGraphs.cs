using System.Text;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// Writes tiny ONNX graphs by hand (the protobuf wire format of onnx.proto), for tests that need a graph the
/// fixtures do not have: e.g. a text encoder whose width does not fit the UNet.
/// </summary>
internal static class OnnxTestGraphs
{
    private const int Float = 1;
    private const int Int64 = 7;

    /// <summary>
    /// A stand-in CLIP text encoder: <c>input_ids</c> int64 [batch, sequence] → <c>last_hidden_state</c> float
    /// [batch, sequence, <paramref name="width"/>] (the ids cast to float and repeated across the width). With
    /// <paramref name="expandSequence"/> other than 1 the graph loads but fails at run time (a broadcast that cannot work).
    /// </summary>
    public static byte[] TextEncoder(int width, int expandSequence = 1)
    {
        var graph = new Proto();
        graph.Message(1, Node("Cast", ["input_ids"], ["ids_f"], new Proto().String(1, "to").Int(3, Float).Int(20, 2)));
        graph.Message(1, Node("Unsqueeze", ["ids_f", "axes"], ["ids_u"]));
        graph.Message(1, Node("Expand", ["ids_u", "shape"], ["last_hidden_state"]));
        graph.String(2, "stand_in_text_encoder");
        graph.Message(5, Int64Tensor("axes", [2]));
        graph.Message(5, Int64Tensor("shape", [1, expandSequence, width]));
        graph.Message(11, ValueInfo("input_ids", Int64, "batch", "sequence"));
        graph.Message(12, ValueInfo("last_hidden_state", Float, "batch", "sequence", width));

        var model = new Proto();
        model.Int(1, 8); // ir_version
        model.String(2, "spright-tests");
        model.Message(7, graph);
        model.Message(8, new Proto().String(1, "").Int(2, 13)); // opset_import: ai.onnx 13
        return model.ToArray();
    }

    private static Proto Node(string op, string[] inputs, string[] outputs, Proto? attribute = null)
    {
        var node = new Proto();
        foreach (string i in inputs)
        {
            node.String(1, i);
        }
        foreach (string o in outputs)
        {
            node.String(2, o);
        }
        node.String(3, op + "_node");
        node.String(4, op);
        if (attribute is not null)
        {
            node.Message(5, attribute);
        }
        return node;
    }

    private static Proto Int64Tensor(string name, long[] values)
    {
        var tensor = new Proto();
        tensor.Int(1, values.Length); // dims
        tensor.Int(2, Int64);         // data_type
        foreach (long v in values)
        {
            tensor.Int(7, v);         // int64_data (unpacked is accepted)
        }
        tensor.String(8, name);
        return tensor;
    }

    private static Proto ValueInfo(string name, int elementType, params object[] dims)
    {
        var shape = new Proto();
        foreach (object d in dims)
        {
            shape.Message(1, d is int value ? new Proto().Int(1, value) : new Proto().String(2, (string)d));
        }
        var tensorType = new Proto().Int(1, elementType).Message(2, shape);
        return new Proto().String(1, name).Message(2, new Proto().Message(1, tensorType));
    }

    /// <summary>A protobuf message being written: varint and length-delimited fields only.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _stream = new();

        public Proto Int(int field, long value)
        {
            Varint(((ulong)field << 3) | 0);
            Varint((ulong)value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _stream.ToArray();

        private Proto Bytes(int field, byte[] bytes)
        {
            Varint(((ulong)field << 3) | 2);
            Varint((ulong)bytes.Length);
            _stream.Write(bytes);
            return this;
        }

        private void Varint(ulong value)
        {
            while (value >= 0x80)
            {
                _stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _stream.WriteByte((byte)value);
        }
    }
}
