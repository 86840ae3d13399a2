namespace Spright.Diffusion.Prompts;

/// <summary>Options of <see cref="LpwPromptEncoder"/> (diffusers' community <c>lpw_stable_diffusion</c>).</summary>
public sealed record LpwOptions
{
    /// <summary>The largest number of 77-token chunks a prompt is encoded in (<c>max_embeddings_multiples</c>,
    /// 1 to 16, default 3); longer prompts are truncated with a logged warning.</summary>
    public int MaxEmbeddingsMultiples { get; init; } = 3;

    internal void Validate()
    {
        if (MaxEmbeddingsMultiples is < 1 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxEmbeddingsMultiples), MaxEmbeddingsMultiples, "MaxEmbeddingsMultiples must be between 1 and 16.");
        }
    }
}
