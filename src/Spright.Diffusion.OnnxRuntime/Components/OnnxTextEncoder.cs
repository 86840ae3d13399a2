using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Components;
using Spright.Diffusion.Configuration;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Float16 = Microsoft.ML.OnnxRuntime.Float16;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Spright.Diffusion.OnnxRuntime.Components;

/// <summary>
/// CLIP text encoder on ONNX Runtime. Accepts int64 (optimum) or int32 (legacy script) <c>input_ids</c> and float32
/// or float16 <c>last_hidden_state</c>; an <c>attention_mask</c> input, when the export has one, is fed all ones
/// (SD 2.x does not mask padding).
/// </summary>
internal sealed partial class OnnxTextEncoder : OnnxComponent, ITextEncoder, Prompts.IAttentionMaskTextEncoder
{
    private static readonly TensorElementType[] IdTypes = [TensorElementType.Int64, TensorElementType.Int32];
    private static readonly TensorElementType[] FloatTypes = [TensorElementType.Float, TensorElementType.Float16];

    private readonly TensorPort _inputIds;
    private readonly TensorPort? _attentionMask;
    private readonly TensorPort _hiddenStates;

    /// <summary>Loads a text encoder graph.</summary>
    /// <param name="modelPath">Path of <c>text_encoder/model.onnx</c>.</param>
    /// <param name="settings">Session settings.</param>
    /// <param name="logger">Where messages go.</param>
    /// <param name="configDirectory">The folder of its <c>config.json</c> (default: the graph's folder).</param>
    public OnnxTextEncoder(string modelPath, OnnxRuntimeSettings? settings = null, ILogger? logger = null, string? configDirectory = null)
        : base(modelPath, "text_encoder", settings, logger)
    {
        try
        {
            var taken = new HashSet<string>(StringComparer.Ordinal);
            _inputIds = RequireInput("token ids", ["input_ids"], [2], IdTypes, taken);
            if (Session.InputMetadata.ContainsKey("attention_mask"))
            {
                _attentionMask = RequireInput("attention mask", ["attention_mask"], [2], IdTypes, taken);
            }
            RejectUnknownInputs(taken);
            _hiddenStates = RequireOutput("hidden states", ["last_hidden_state"], [3], FloatTypes);

            TextEncoderConfigInfo config = TextEncoderConfigInfo.Read(configDirectory ?? Path.GetDirectoryName(ModelPath)!);
            int? graph = _hiddenStates.Fixed(2);
            if (config.HiddenSize is int c && graph is int g && c != g)
            {
                throw new ModelLoadException(config.Path!, $"hidden_size is {c} but the graph's last_hidden_state is {g} wide");
            }
            HiddenSize = graph ?? config.HiddenSize;
            FixedSequenceLength = _inputIds.Fixed(1);
            MaxSequenceLength = FixedSequenceLength ?? config.MaxPositionEmbeddings;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public int? HiddenSize { get; }

    /// <summary>The one sequence length the graph takes, when its <c>input_ids</c> have a fixed length.</summary>
    internal int? FixedSequenceLength { get; }

    /// <summary>The longest token sequence the encoder takes (the graph's fixed length, else the config's
    /// <c>max_position_embeddings</c>), when known.</summary>
    public int? MaxSequenceLength { get; }

    /// <summary>The element type of the token ids input (Int64 for optimum exports, Int32 for the legacy script).</summary>
    public TensorElementType InputIdsType => _inputIds.ElementType;

    /// <summary>The element type of the hidden states (Float or Float16).</summary>
    public TensorElementType OutputType => _hiddenStates.ElementType;

    /// <inheritdoc />
    public Tensor<float> Encode(ReadOnlySpan<int> inputIds, int batchSize, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (batchSize <= 0 || inputIds.Length == 0 || inputIds.Length % batchSize != 0)
        {
            throw new ArgumentException($"{inputIds.Length} ids cannot form {batchSize} equal rows.", nameof(inputIds));
        }
        int sequence = inputIds.Length / batchSize;
        if (_inputIds.Fixed(1) is int fixedLength && fixedLength != sequence)
        {
            throw new ArgumentException($"The text encoder takes sequences of exactly {fixedLength} tokens, got {sequence}.", nameof(inputIds));
        }

        using OrtTensorBuffer ids = OrtTensorBuffer.Create(_inputIds.ElementType, batchSize, sequence);
        ids.WriteIds(inputIds);
        using OrtTensorBuffer? mask = _attentionMask is { } m ? OrtTensorBuffer.Create(m.ElementType, batchSize, sequence) : null;
        mask?.Fill(1);

        var names = new List<string> { _inputIds.Name };
        var values = new List<OrtValue> { ids.Value };
        if (mask is not null)
        {
            names.Add(_attentionMask!.Value.Name);
            values.Add(mask.Value);
        }

        using RunOptions runOptions = CreateRunOptions(releaseMemory: true);
        using IDisposableReadOnlyCollection<OrtValue> outputs = RunCancellable(runOptions, () => Session.Run(runOptions, names, values, [_hiddenStates.Name]), cancellationToken);
        OrtValue output = outputs[0];
        long[] shape = output.GetTensorTypeAndShape().Shape;
        if (shape.Length != 3 || shape[0] != batchSize || shape[1] != sequence)
        {
            throw new ModelLoadException(ModelPath, $"last_hidden_state came back as [{string.Join(", ", shape)}], expected [{batchSize}, {sequence}, hidden]");
        }
        var data = new float[checked((int)(shape[0] * shape[1] * shape[2]))];
        OrtTensorBuffer.ReadValue(output, _hiddenStates.ElementType, data);
        return TensorShapes.Wrap(data, batchSize, sequence, (int)shape[2]);
    }
}
