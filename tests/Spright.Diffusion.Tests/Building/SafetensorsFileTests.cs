using System.Text.Json.Nodes;
using Spright.Diffusion.OnnxRuntime.Safetensors;

namespace Spright.Diffusion.Tests.Building;

/// <summary>The safetensors header reader: a valid file's layout, and a clear one-line error for every kind of lie.</summary>
public sealed class SafetensorsFileTests
{
    [Fact]
    public void Read_TinyUNetWeights_ListsEveryTensorInsideTheFile()
    {
        string path = Path.Combine(BuildingTestData.TinySd2, "unet", "diffusion_pytorch_model.safetensors");
        SafetensorsFile file = SafetensorsFile.Read(path);
        Assert.Equal(new FileInfo(path).Length, file.FileLength);
        Assert.NotEmpty(file.Tensors);
        SafetensorsTensor conv = file.Find("conv_in.weight")!;
        Assert.Equal(SafetensorsDType.F32, conv.DType);
        Assert.Equal([32L, 4, 3, 3], conv.Shape);
        Assert.Equal(32 * 4 * 3 * 3 * 4, conv.ByteLength);
        Assert.All(file.Tensors, t => Assert.InRange(t.FileOffset + t.ByteLength, 8 + file.HeaderLength, file.FileLength));
    }

    [Fact]
    public void Read_MetadataAndZeroSizedTensors_AreAccepted()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("m.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsWriter.Floats("a", [2], [1f, 2f]), SafetensorsWriter.Floats("empty", [0, 3], []), SafetensorsWriter.Floats("b", [1], [3f], "BF16")],
            new JsonObject { ["format"] = "pt" });
        SafetensorsFile file = SafetensorsFile.Read(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(3, file.Tensors.Count);
        Assert.Equal(SafetensorsDType.BF16, file.Find("b")!.DType);
    }

    public static TheoryData<string, string> LyingHeaders() => new()
    {
        { "past-end", "tensor 'w': data_offsets [0, 4000] point past the end" },
        { "dtype-shape", "tensor 'w': F32 [2, 3] needs 24 bytes but data_offsets [0, 16] span 16" },
        { "overlap", "tensors 'a' and 'b' overlap" },
        { "unknown-dtype", "tensor 'w': unknown dtype 'F7'" },
        { "negative-shape", "tensor 'w': shape entry -2 is not a non-negative integer" },
        { "reversed-offsets", "tensor 'w': data_offsets [8, 4] end before they begin" },
        { "not-json", "safetensors header is not valid JSON" },
        { "not-object", "safetensors header is not a JSON object" },
        { "duplicate", "safetensors header lists tensor 'w' twice" },
        { "missing-offsets", "tensor 'w': header entry has no 'data_offsets' pair" },
        { "bad-metadata", "safetensors '__metadata__' entry 'k' is not a string" },
        { "overflow", "tensor 'w': F32 [4611686018427387904, 4] needs more than 2^63 bytes" },
    };

    [Theory]
    [MemberData(nameof(LyingHeaders))]
    public void Read_LyingHeader_IsAOneLineModelLoadExceptionNamingFileAndTensor(string kind, string expected)
    {
        using var temp = new TempFolder();
        string path = temp.Combine("bad.safetensors");
        byte[] data = new byte[16];
        string header = kind switch
        {
            "past-end" => """{"w":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}""",
            "dtype-shape" => """{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}""",
            "overlap" => """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""",
            "unknown-dtype" => """{"w":{"dtype":"F7","shape":[4],"data_offsets":[0,16]}}""",
            "negative-shape" => """{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,16]}}""",
            "reversed-offsets" => """{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}""",
            "not-json" => """{"w":{"dtype":"F32",""",
            "not-object" => """[1,2,3]""",
            "duplicate" => """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""",
            "missing-offsets" => """{"w":{"dtype":"F32","shape":[1]}}""",
            "bad-metadata" => """{"__metadata__":{"k":1},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""",
            "overflow" => """{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}""",
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        SafetensorsWriter.WriteRaw(path, header, data);
        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Read(path));
        Assert.Equal(path, ex.FilePath);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Theory]
    [InlineData(0L, "header length 0 is outside")]
    [InlineData(200_000_000L, "header length 200000000 is outside")]
    [InlineData(5000L, "truncated safetensors file: the header claims 5000 bytes")]
    public void Read_ImplausibleHeaderLength_IsRefusedBeforeAnyAllocation(long declared, string expected)
    {
        using var temp = new TempFolder();
        string path = temp.Combine("bad.safetensors");
        SafetensorsWriter.WriteRaw(path, """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", new byte[4], declared);
        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Read(path));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedRealFile_NamesTheFirstTensorThatNoLongerFits()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("unet.safetensors");
        File.Copy(Path.Combine(BuildingTestData.TinySd2, "unet", "diffusion_pytorch_model.safetensors"), path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            stream.SetLength(stream.Length / 2);
        }
        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Read(path));
        Assert.Contains("point past the end of the data", ex.Message, StringComparison.Ordinal);
        Assert.Matches("tensor '[^']+'", ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void Read_FileShorterThanTheLengthPrefix_IsRefused(int length)
    {
        using var temp = new TempFolder();
        string path = temp.Combine("tiny.safetensors");
        File.WriteAllBytes(path, new byte[length]);
        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Read(path));
        Assert.Contains("shorter than the 8-byte header length", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_MissingFile_IsAModelLoadException()
    {
        using var temp = new TempFolder();
        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Read(temp.Combine("none.safetensors")));
        Assert.Contains("not found", ex.Message, StringComparison.Ordinal);
    }
}
