namespace Spright.Diffusion.Prompts;

/// <summary>What every <see cref="IPromptEncoder"/> of the library checks and does the same way for a batch.</summary>
internal static class PromptBatch
{
    /// <summary>The public-surface checks of <see cref="IPromptEncoder.Encode"/>.</summary>
    /// <exception cref="ArgumentNullException">The prompts or the context is null.</exception>
    /// <exception cref="ArgumentException">No prompt, a null prompt, a prompt over <see cref="Tokenization.PromptLimits"/>, or not one
    /// negative prompt per prompt.</exception>
    public static void Validate(IReadOnlyList<string> prompts, IReadOnlyList<string>? negativePrompts, PromptEncoderContext context)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(context);
        if (prompts.Count == 0)
        {
            throw new ArgumentException("At least one prompt is needed.", nameof(prompts));
        }
        CheckElements(prompts, nameof(prompts));
        if (negativePrompts is not null)
        {
            if (negativePrompts.Count != prompts.Count)
            {
                throw new ArgumentException(
                    $"{negativePrompts.Count} negative prompts were given for {prompts.Count} prompts; give one per prompt (\"\" for none), or null without guidance.",
                    nameof(negativePrompts));
            }
            CheckElements(negativePrompts, nameof(negativePrompts));
        }
    }

    /// <summary>Runs the work of one prompt of a batch; in a batch of several, an <see cref="ArgumentException"/> about
    /// it also says which prompt (<c>prompts[1]: …</c>).</summary>
    public static T ForPrompt<T>(Func<string, string, T> work, IReadOnlyList<string> texts, int index, string paramName)
    {
        if (texts.Count == 1)
        {
            return work(texts[index], paramName);
        }
        try
        {
            return work(texts[index], paramName);
        }
        catch (ArgumentException e) when (e.ParamName == paramName)
        {
            string suffix = $" (Parameter '{paramName}')";
            string message = e.Message.EndsWith(suffix, StringComparison.Ordinal) ? e.Message[..^suffix.Length] : e.Message;
            throw new ArgumentException($"{paramName}[{index}]: {message}", paramName, e);
        }
    }

    private static void CheckElements(IReadOnlyList<string> texts, string paramName)
    {
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null)
            {
                throw new ArgumentException($"{paramName}[{i}] is null.", paramName);
            }
            Tokenization.PromptLimits.CheckLength(texts[i], texts.Count == 1 ? paramName : $"{paramName}[{i}]", paramName);
        }
    }
}
