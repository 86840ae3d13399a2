using Spright.Diffusion.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// Every way of breaking a model folder in <see cref="BrokenModels"/> must end in a <see cref="ModelLoadException"/>
/// whose path is the culprit and whose problem says what is wrong, never another exception type.
/// </summary>
public sealed class BrokenModelFolderTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(BrokenModels.Names), MemberType = typeof(BrokenModels))]
    public void Broken_folder_throws_ModelLoadException_naming_the_culprit(string name)
    {
        BrokenModel broken = BrokenModels.Get(name);
        using var model = new TempModelFolder(TestPaths.TinyModel);
        broken.Break(model);

        Exception? thrown = Record.Exception(() =>
        {
            using DiffusionPipeline pipe = DiffusionPipeline.FromPretrained(model.Path);
        });

        output.WriteLine(thrown?.GetType().Name + ": " + thrown?.Message);
        ModelLoadException ex = Assert.IsType<ModelLoadException>(thrown);
        string expectedPath = Path.GetFullPath(model.File(broken.Culprit));
        Assert.Equal(expectedPath, Path.GetFullPath(ex.FilePath));
        foreach (string word in broken.Words)
        {
            Assert.Contains(word, ex.Problem, StringComparison.OrdinalIgnoreCase);
        }
        Assert.StartsWith(ex.FilePath, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.True(ex.Problem.Length <= 400, $"the problem should be short: {ex.Problem}");
    }
}
