namespace Spright.Diffusion.Hub;

/// <summary>
/// A Hugging Face Hub operation failed. <see cref="Kind"/> says how (repository, gated repository, revision or file not
/// found, not cached while offline, ...); the message is one line naming the repository and, where there is one, the
/// file, so that tools can show it as it is.
/// </summary>
public sealed class HubException : DiffusionException
{
    /// <summary>Creates an exception of kind <see cref="HubErrorKind.HttpError"/> with a default message.</summary>
    public HubException()
        : this("A Hugging Face Hub operation failed.")
    {
    }

    /// <summary>Creates an exception of kind <see cref="HubErrorKind.HttpError"/>.</summary>
    /// <param name="message">The message (one line).</param>
    public HubException(string message)
        : this(message, null)
    {
    }

    /// <summary>Creates an exception of kind <see cref="HubErrorKind.HttpError"/>.</summary>
    /// <param name="message">The message (one line).</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public HubException(string message, Exception? innerException)
        : this(HubErrorKind.HttpError, null, null, message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="kind">What went wrong.</param>
    /// <param name="repoId">The repository, if known.</param>
    /// <param name="fileName">The file inside the repository (<c>unet/config.json</c>), if the error concerns one.</param>
    /// <param name="message">The message (one line; line breaks are replaced by spaces).</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public HubException(HubErrorKind kind, string? repoId, string? fileName, string message, Exception? innerException = null)
        : base(OneLine(message), innerException)
    {
        Kind = kind;
        RepoId = repoId;
        FileName = fileName;
    }

    /// <summary>What went wrong.</summary>
    public HubErrorKind Kind { get; }

    /// <summary>The repository id, if known.</summary>
    public string? RepoId { get; }

    /// <summary>The file inside the repository, if the error concerns one.</summary>
    public string? FileName { get; }

    /// <summary>The HTTP status of the Hub's reply, if the error came from one.</summary>
    public int? StatusCode { get; init; }

    /// <summary>Set on errors that must not fall back to the cache (TLS failures), as huggingface_hub re-raises them.</summary>
    internal bool NoCacheFallback { get; init; }

    /// <summary>The <c>X-Repo-Commit</c> of the error reply, if any (for <c>.no_exist</c> markers).</summary>
    internal string? ErrorCommit { get; init; }
}
