namespace Spright.Diffusion.Prompts;

/// <summary>The library's prompt encoders by <see cref="PromptWeighting"/>.</summary>
public static class PromptEncoders
{
    /// <summary>The encoder of a weighting mode.</summary>
    /// <param name="weighting">The mode.</param>
    /// <param name="lpwOptions">Options of <see cref="PromptWeighting.Lpw"/> (defaults when <see langword="null"/>).</param>
    /// <param name="compelOptions">Options of <see cref="PromptWeighting.Compel"/> (defaults when <see langword="null"/>).</param>
    /// <returns>A thread-safe encoder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weighting"/> is not a defined mode, or an option is out of range.</exception>
    public static IPromptEncoder Create(PromptWeighting weighting, LpwOptions? lpwOptions = null, CompelOptions? compelOptions = null) => weighting switch
    {
        PromptWeighting.None => new TruncatingPromptEncoder(),
        PromptWeighting.Lpw => new LpwPromptEncoder(lpwOptions),
        PromptWeighting.Compel => new CompelPromptEncoder(compelOptions),
        _ => throw new ArgumentOutOfRangeException(nameof(weighting), weighting, "PromptWeighting must be None, Lpw or Compel."),
    };
}
