using System.Globalization;
using System.Runtime.InteropServices;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// A small ONNX graph-building DSL over the wire format: nodes with generated unique names (prefixed by the current
/// <see cref="Scope"/>), deduplicated constants, inline / streamed / external-data initializers, graph inputs and
/// outputs with symbolic dimensions, and the <c>ModelProto</c> around them.
/// </summary>
internal sealed class OnnxGraph
{
    private readonly List<ProtoBuffer> _nodes = [];
    private readonly List<ProtoBuffer> _initializers = [];
    private readonly List<ProtoBuffer> _inputs = [];
    private readonly List<ProtoBuffer> _outputs = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _opCounters = new(StringComparer.Ordinal);
    private readonly Stack<string> _scopes = new();
    private readonly SortedDictionary<string, long> _opsets = new(StringComparer.Ordinal);
    private long _initializerBytes;

    /// <summary>Creates an empty graph using the default ONNX domain at <paramref name="opset"/>.</summary>
    public OnnxGraph(string name, int opset)
    {
        Name = name;
        _opsets[""] = opset;
    }

    /// <summary>The graph's name.</summary>
    public string Name { get; }

    /// <summary>How many nodes the graph has.</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>How many initializers the graph has.</summary>
    public int InitializerCount => _initializers.Count;

    /// <summary>Bytes of initializer data (inline and external).</summary>
    public long InitializerBytes => _initializerBytes;

    /// <summary>Node counts per operator type.</summary>
    public SortedDictionary<string, int> OperatorCounts { get; } = new(StringComparer.Ordinal);

    /// <summary>Declares that nodes of <paramref name="domain"/> are used (e.g. <c>com.microsoft</c>, version 1).</summary>
    public void UseDomain(string domain, long version) => _opsets[domain] = version;

    /// <summary>Opens a naming scope; dispose to close it.</summary>
    public IDisposable Scope(string name)
    {
        _scopes.Push(_scopes.Count == 0 ? name : _scopes.Peek() + "/" + name);
        return new ScopeExit(this);
    }

    /// <summary>Adds a graph input.</summary>
    public string Input(string name, OnnxElementType type, params object[] dims)
    {
        Claim(name);
        _inputs.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>Declares <paramref name="value"/> a graph output called <paramref name="name"/> (an Identity node renames it when needed).</summary>
    public void Output(string value, string name, OnnxElementType type, params object[] dims)
    {
        if (value != name)
        {
            AddNode("Identity", [value], [name], "", []);
            Claim(name);
        }
        _outputs.Add(ValueInfo(name, type, dims));
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string op, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes) =>
        NodeIn("", op, inputs, 1, attributes)[0];

    /// <summary>Adds a node of another operator domain with one output.</summary>
    public string NodeIn(string domain, string op, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes) =>
        NodeIn(domain, op, inputs, 1, attributes)[0];

    /// <summary>Adds a node with several outputs.</summary>
    public string[] NodeIn(string domain, string op, IReadOnlyList<string> inputs, int outputCount, params OnnxAttribute[] attributes)
    {
        string nodeName = UniqueNodeName(op);
        var outputs = new string[outputCount];
        for (int i = 0; i < outputCount; i++)
        {
            outputs[i] = outputCount == 1 ? nodeName : nodeName + ":" + i.ToString(CultureInfo.InvariantCulture);
            Claim(outputs[i]);
        }
        AddNode(op, inputs, outputs, domain, attributes, nodeName);
        return outputs;
    }

    /// <summary>An int64 vector constant (deduplicated).</summary>
    public string Int64s(params long[] values)
    {
        string key = "i64:" + string.Join(",", values);
        if (_constants.TryGetValue(key, out string? name))
        {
            return name;
        }
        var bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        name = UniqueConstantName("i64");
        Initializer(name, OnnxElementType.Int64, [values.Length], bytes);
        _constants[key] = name;
        return name;
    }

    /// <summary>An int64 scalar (rank-0) constant.</summary>
    public string Int64Scalar(long value)
    {
        string key = "i64s:" + value.ToString(CultureInfo.InvariantCulture);
        if (_constants.TryGetValue(key, out string? name))
        {
            return name;
        }
        name = UniqueConstantName("i64");
        Initializer(name, OnnxElementType.Int64, [], BitConverter.GetBytes(value));
        _constants[key] = name;
        return name;
    }

    /// <summary>A float constant of <paramref name="type"/> (float32 or float16) with shape <paramref name="dims"/>, all
    /// elements equal to <paramref name="value"/> (deduplicated).</summary>
    public string Scalar(float value, OnnxElementType type, params long[] dims)
    {
        string key = $"f{(int)type}:{BitConverter.SingleToInt32Bits(value)}:{string.Join(",", dims)}";
        if (_constants.TryGetValue(key, out string? name))
        {
            return name;
        }
        long count = 1;
        foreach (long d in dims)
        {
            count *= d;
        }
        var values = new float[count];
        Array.Fill(values, value);
        name = UniqueConstantName("c");
        Initializer(name, type, dims, FloatBytes(values, type));
        _constants[key] = name;
        return name;
    }

    /// <summary>A float constant of <paramref name="type"/> with the given values and shape.</summary>
    public string Floats(float[] values, OnnxElementType type, params long[] dims)
    {
        string name = UniqueConstantName("c");
        Initializer(name, type, dims, FloatBytes(values, type));
        return name;
    }

    /// <summary>An inline initializer.</summary>
    public void Initializer(string name, OnnxElementType type, long[] dims, byte[] raw)
    {
        Claim(name);
        var tensor = TensorHeader(name, type, dims);
        tensor.Bytes(9, raw);
        _initializers.Add(tensor);
        _initializerBytes += raw.Length;
    }

    /// <summary>An inline initializer whose raw data is streamed when the model is written.</summary>
    public void StreamedInitializer(string name, OnnxElementType type, long[] dims, ProtoSegment data)
    {
        Claim(name);
        var tensor = TensorHeader(name, type, dims);
        tensor.Segment(9, data);
        _initializers.Add(tensor);
        _initializerBytes += data.Length;
    }

    /// <summary>An initializer whose data lies in <paramref name="location"/> (relative to the model file) at
    /// <paramref name="offset"/> (ONNX external data).</summary>
    public void ExternalInitializer(string name, OnnxElementType type, long[] dims, string location, long offset, long length)
    {
        Claim(name);
        var tensor = TensorHeader(name, type, dims);
        tensor.Message(13, new ProtoBuffer().String(1, "location").String(2, location));
        tensor.Message(13, new ProtoBuffer().String(1, "offset").String(2, offset.ToString(CultureInfo.InvariantCulture)));
        tensor.Message(13, new ProtoBuffer().String(1, "length").String(2, length.ToString(CultureInfo.InvariantCulture)));
        tensor.Varint(14, 1); // data_location = EXTERNAL
        _initializers.Add(tensor);
        _initializerBytes += length;
    }

    /// <summary>A unique name for a new initializer, from <paramref name="hint"/>.</summary>
    public string UniqueName(string hint)
    {
        string name = hint;
        int n = 1;
        while (_names.Contains(name))
        {
            name = hint + "_" + (n++).ToString(CultureInfo.InvariantCulture);
        }
        return name;
    }

    /// <summary>The <c>ModelProto</c> holding this graph.</summary>
    public ProtoBuffer ToModel(string producerName, string producerVersion, IReadOnlyDictionary<string, string>? metadata = null, int irVersion = 8)
    {
        var graph = new ProtoBuffer();
        foreach (ProtoBuffer node in _nodes)
        {
            graph.Message(1, node);
        }
        graph.String(2, Name);
        foreach (ProtoBuffer tensor in _initializers)
        {
            graph.Message(5, tensor);
        }
        foreach (ProtoBuffer input in _inputs)
        {
            graph.Message(11, input);
        }
        foreach (ProtoBuffer output in _outputs)
        {
            graph.Message(12, output);
        }

        var model = new ProtoBuffer();
        model.Varint(1, irVersion);
        model.String(2, producerName);
        model.String(3, producerVersion);
        model.Message(7, graph);
        foreach ((string domain, long version) in _opsets)
        {
            model.Message(8, new ProtoBuffer().String(1, domain).Varint(2, version));
        }
        foreach ((string key, string value) in metadata ?? new Dictionary<string, string>())
        {
            model.Message(14, new ProtoBuffer().String(1, key).String(2, value));
        }
        return model;
    }

    /// <summary>Float values as raw little-endian bytes of <paramref name="type"/> (float32 or float16).</summary>
    public static byte[] FloatBytes(ReadOnlySpan<float> values, OnnxElementType type)
    {
        if (type == OnnxElementType.Float)
        {
            return MemoryMarshal.AsBytes(values).ToArray();
        }
        if (type == OnnxElementType.Float16)
        {
            var halves = new Half[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                halves[i] = (Half)values[i];
            }
            return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
        }
        throw new ArgumentOutOfRangeException(nameof(type), type, "Only float32 and float16 constants are written.");
    }

    private static ProtoBuffer TensorHeader(string name, OnnxElementType type, long[] dims)
    {
        var tensor = new ProtoBuffer();
        if (dims.Length > 0)
        {
            tensor.PackedVarints(1, dims);
        }
        tensor.Varint(2, (int)type);
        tensor.String(8, name);
        return tensor;
    }

    private static ProtoBuffer ValueInfo(string name, OnnxElementType type, object[] dims)
    {
        var shape = new ProtoBuffer();
        foreach (object d in dims)
        {
            var dim = new ProtoBuffer();
            switch (d)
            {
                case int i:
                    dim.Varint(1, i);
                    break;
                case long l:
                    dim.Varint(1, l);
                    break;
                case string s:
                    dim.String(2, s);
                    break;
                default:
                    throw new ArgumentException($"Dimension {d} is neither a number nor a name.", nameof(dims));
            }
            shape.Message(1, dim);
        }
        var tensorType = new ProtoBuffer().Varint(1, (int)type).Message(2, shape);
        return new ProtoBuffer().String(1, name).Message(2, new ProtoBuffer().Message(1, tensorType));
    }

    private void AddNode(string op, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, string domain, OnnxAttribute[] attributes, string? nodeName = null)
    {
        var node = new ProtoBuffer();
        foreach (string input in inputs)
        {
            if (input.Length > 0 && !_names.Contains(input))
            {
                throw new InvalidOperationException($"Node {op} uses '{input}', which no earlier node, input or initializer defines.");
            }
            node.String(1, input);
        }
        foreach (string output in outputs)
        {
            node.String(2, output);
        }
        node.String(3, nodeName ?? UniqueNodeName(op));
        node.String(4, op);
        foreach (OnnxAttribute attribute in attributes)
        {
            node.Message(5, attribute.Proto);
        }
        if (domain.Length > 0)
        {
            if (!_opsets.ContainsKey(domain))
            {
                throw new InvalidOperationException($"Node {op} is in domain '{domain}', which the graph does not declare.");
            }
            node.String(7, domain);
        }
        _nodes.Add(node);
        OperatorCounts[op] = OperatorCounts.GetValueOrDefault(op) + 1;
    }

    private string UniqueNodeName(string op)
    {
        string prefix = _scopes.Count == 0 ? op : _scopes.Peek() + "/" + op;
        int n = _opCounters.GetValueOrDefault(prefix);
        string name;
        do
        {
            name = n == 0 ? prefix : prefix + "_" + n.ToString(CultureInfo.InvariantCulture);
            n++;
        }
        while (_names.Contains(name) || _names.Contains(name + ":0"));
        _opCounters[prefix] = n;
        return name;
    }

    private string UniqueConstantName(string kind) => UniqueName("const/" + kind + "_" + _constants.Count.ToString(CultureInfo.InvariantCulture));

    private void Claim(string name)
    {
        if (!_names.Add(name))
        {
            throw new InvalidOperationException($"The graph already has a value called '{name}'.");
        }
    }

    private sealed class ScopeExit(OnnxGraph graph) : IDisposable
    {
        public void Dispose() => graph._scopes.Pop();
    }
}
