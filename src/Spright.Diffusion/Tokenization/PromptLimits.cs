namespace Spright.Diffusion.Tokenization;

/// <summary>
/// The bounds on prompt text, enforced before tokenizing: byte-pair encoding of one long word is super-linear, and only
/// the first 77 tokens (up to a few hundred with prompt weighting) are ever used, so a service taking user prompts must
/// not let one request tokenize megabytes. Within the bounds tokenization stays exactly transformers'.
/// </summary>
public static class PromptLimits
{
    /// <summary>The most characters one prompt (or negative prompt) may have: 16384, about 3000 words.</summary>
    public const int MaxCharacters = 16384;

    /// <summary>The most characters one word (a run without white space) may have: 1024.</summary>
    public const int MaxWordCharacters = 1024;

    /// <summary>Throws when <paramref name="text"/> exceeds <see cref="MaxCharacters"/> or has a word over
    /// <see cref="MaxWordCharacters"/>.</summary>
    /// <param name="text">The prompt.</param>
    /// <param name="parameterName">The option or parameter to name in the error.</param>
    /// <exception cref="ArgumentException">The prompt is too long, or one of its words is.</exception>
    public static void Check(string text, string parameterName)
    {
        CheckLength(text, parameterName, parameterName);
        int run = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsWhiteSpace(text[i]))
            {
                run = 0;
            }
            else if (++run > MaxWordCharacters)
            {
                throw new ArgumentException(
                    $"{parameterName} has a word of more than {MaxWordCharacters} characters without white space (from position {i + 1 - run}); at most {MaxWordCharacters} are accepted.",
                    parameterName);
            }
        }
    }

    /// <summary>The <see cref="MaxCharacters"/> half of <see cref="Check"/>: what the pipeline and the prompt encoders check
    /// on the raw text (weighting syntax such as nested brackets is removed before the tokenizer sees the words).</summary>
    internal static void CheckLength(string text, string subject, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(text, parameterName);
        if (text.Length > MaxCharacters)
        {
            throw new ArgumentException($"{subject} has {text.Length} characters; at most {MaxCharacters} are accepted.", parameterName);
        }
    }
}
