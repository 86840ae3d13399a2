using System.Globalization;
using System.Text;
using System.Text.Json;
using Spright.Diffusion.Prompts;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Prompts;

/// <summary>
/// The two prompt parsers against what the Python code produced for the same prompts (TestData/reference/
/// prompt_weighting/parser_cases.json: compel 2.2.1's parse_conjunction on pyparsing 3.0.9, diffusers v0.31.0's
/// parse_prompt_attention; hand-picked syntax and malformed input plus seeded random strings of syntax pieces).
/// </summary>
public sealed class PromptParserReferenceTests
{
    private static readonly Lazy<JsonDocument> Cases = new(() =>
        JsonDocument.Parse(File.ReadAllText(TestPaths.Reference("prompt_weighting", "parser_cases.json"))));

    [Fact]
    public void CompelParse_EveryReferenceCase_GivesCompelsStructureOrItsError()
    {
        var failures = new List<string>();
        int count = 0;
        foreach (JsonElement c in Cases.Value.RootElement.GetProperty("compel").EnumerateArray())
        {
            count++;
            string prompt = c.GetProperty("prompt").GetString()!;
            JsonElement expected = c.GetProperty("result");
            string actual;
            try
            {
                actual = Describe(CompelPromptParser.Default.Parse(prompt));
            }
            catch (ArgumentException)
            {
                actual = "error";
            }
            string wanted = expected.ValueKind == JsonValueKind.String ? "error" : Describe(expected);
            if (actual != wanted)
            {
                failures.Add($"{JsonSerializer.Serialize(prompt)}\n   expected {wanted}\n   actual   {actual}");
            }
        }
        Assert.True(count > 500, "the reference file lost its cases");
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} prompts differ:\n" + string.Join("\n", failures.Take(30)));
    }

    [Fact]
    public void LpwParse_EveryReferenceCase_GivesParsePromptAttentionsRunsOrItsError()
    {
        var failures = new List<string>();
        int count = 0;
        foreach (JsonElement c in Cases.Value.RootElement.GetProperty("lpw").EnumerateArray())
        {
            count++;
            string prompt = c.GetProperty("prompt").GetString()!;
            JsonElement expected = c.GetProperty("result");
            string actual;
            try
            {
                actual = string.Join(" | ", LpwPromptParser.Parse(prompt).Select(r => $"{JsonSerializer.Serialize(r.Text)}@{W(r.Weight)}"));
            }
            catch (ArgumentException)
            {
                actual = "error";
            }
            string wanted = expected.ValueKind == JsonValueKind.String
                ? "error"
                : string.Join(" | ", expected.EnumerateArray().Select(r => $"{JsonSerializer.Serialize(r[0].GetString())}@{W(r[1].GetDouble())}"));
            if (actual != wanted)
            {
                failures.Add($"{JsonSerializer.Serialize(prompt)}\n   expected {wanted}\n   actual   {actual}");
            }
        }
        Assert.True(count > 400, "the reference file lost its cases");
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} prompts differ:\n" + string.Join("\n", failures.Take(30)));
    }

    private static string W(double w) => w.ToString("R", CultureInfo.InvariantCulture);

    private static string WJson(JsonElement w) =>
        w.ValueKind == JsonValueKind.String ? w.GetString()! : W(w.GetDouble());

    private static string Describe(CompelConjunction c) =>
        $"[{string.Join(", ", c.Prompts.Select(Describe))}] w[{string.Join(", ", c.Weights.Select(WPy))}]";

    private static string WPy(double w) => double.IsPositiveInfinity(w) ? "inf" : double.IsNegativeInfinity(w) ? "-inf" : double.IsNaN(w) ? "nan" : W(w);

    private static string Describe(object part) => part switch
    {
        CompelFlattenedPrompt f => "flat(" + string.Join(", ", f.Children.Select(Describe)) + ")",
        CompelBlend b => $"blend({string.Join(", ", b.Prompts.Select(Describe))}; w[{string.Join(", ", b.Weights.Select(WPy))}] {(b.Normalize ? "True" : "False")})",
        CompelFragment f => $"{JsonSerializer.Serialize(f.Text)}@{WPy(f.Weight)}",
        CompelSwap s => $"swap([{string.Join(", ", s.Original.Select(Describe))}] -> [{string.Join(", ", s.Edited.Select(Describe))}])",
        _ => part.ToString()!,
    };

    private static string Describe(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Array)
        {
            if (e[0].GetString() == "frag")
            {
                return $"{JsonSerializer.Serialize(e[1].GetString())}@{WJson(e[2])}";
            }
            return $"swap([{string.Join(", ", e[1].EnumerateArray().Select(Describe))}] -> [{string.Join(", ", e[2].EnumerateArray().Select(Describe))}])";
        }
        if (e.TryGetProperty("parts", out JsonElement parts))
        {
            return $"[{string.Join(", ", parts.EnumerateArray().Select(Describe))}] w[{string.Join(", ", e.GetProperty("weights").EnumerateArray().Select(WJson))}]";
        }
        if (e.TryGetProperty("flat", out JsonElement flat))
        {
            return "flat(" + string.Join(", ", flat.EnumerateArray().Select(Describe)) + ")";
        }
        var sb = new StringBuilder("blend(");
        sb.Append(string.Join(", ", e.GetProperty("blend").EnumerateArray().Select(Describe)));
        sb.Append("; w[").Append(string.Join(", ", e.GetProperty("weights").EnumerateArray().Select(WJson))).Append("] ");
        sb.Append(e.GetProperty("normalize").GetBoolean() ? "True" : "False").Append(')');
        return sb.ToString();
    }
}
