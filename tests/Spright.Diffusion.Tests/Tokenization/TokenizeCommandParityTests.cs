using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tests.Reliability;

namespace Spright.Diffusion.Tests.Tokenization;

/// <summary>
/// <c>spright tokenize</c> in stdin mode (one JSON string per line in, one JSON array per line out) gives exactly
/// transformers' ids for all 246 reference prompts, padded and full, in both clean-up variants — the path the
/// held-out prompts are checked through.
/// </summary>
public sealed class TokenizeCommandParityTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task StdinModeMatchesTransformersForEveryReferencePrompt(bool ftfy, bool noPadding)
    {
        IReadOnlyList<ReferenceCase> cases = TokenizerReference.Instance.Cases;
        var args = new List<string> { "tokenize", "--model", TestPaths.TinyModel };
        if (ftfy)
        {
            args.Add("--ftfy");
        }
        if (noPadding)
        {
            args.Add("--no-padding");
        }
        using Process process = CliProcess.Start(Path.GetTempPath(), args);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        var input = new StringBuilder();
        foreach (ReferenceCase c in cases)
        {
            input.Append(JsonSerializer.Serialize(c.Prompt)).Append('\n');
        }
        process.StandardInput.Write(input.ToString());
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        string errors = await stderr;
        Assert.True(process.ExitCode == 0, errors);

        string[] lines = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(cases.Count, lines.Length);
        for (int i = 0; i < cases.Count; i++)
        {
            ReferenceExpectation expected = cases[i].ByFtfy[ftfy];
            int[] actual = JsonSerializer.Deserialize<int[]>(lines[i])!;
            Assert.True((noPadding ? expected.Full : expected.Padded).SequenceEqual(actual),
                $"prompt {cases[i].Index} ({cases[i].Category}): got {lines[i]}");
        }
    }

    [Fact]
    public void PromptArgumentPrintsOneJsonArray()
    {
        CliResult result = CliProcess.Run(Path.GetTempPath(), "tokenize", "--model", TestPaths.TinyModel, "--no-padding", "a cat!!");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("[49406, 320, 2368, 0, 0, 49407]", result.Stdout.Trim());
    }
}
