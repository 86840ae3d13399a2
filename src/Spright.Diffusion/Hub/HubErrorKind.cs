namespace Spright.Diffusion.Hub;

/// <summary>What went wrong in a Hugging Face Hub operation (<see cref="HubException.Kind"/>), after huggingface_hub's
/// error classes.</summary>
public enum HubErrorKind
{
    /// <summary>The Hub answered with an HTTP error that has no more specific kind (a 403, a 5xx after the retries, ...).</summary>
    HttpError = 0,

    /// <summary>The repository does not exist, or it is private and no (or a wrong) token was sent
    /// (huggingface_hub's <c>RepositoryNotFoundError</c>).</summary>
    RepositoryNotFound,

    /// <summary>The repository is gated: its conditions must be accepted on the Hub and a token with access sent
    /// (huggingface_hub's <c>GatedRepoError</c>).</summary>
    GatedRepo,

    /// <summary>The branch, tag or commit does not exist in the repository (<c>RevisionNotFoundError</c>).</summary>
    RevisionNotFound,

    /// <summary>The file does not exist at that revision, or the repository lacks the files asked for (a variant,
    /// safetensors weights, ONNX graphs) (<c>EntryNotFoundError</c>).</summary>
    EntryNotFound,

    /// <summary>The file or snapshot is not in the local cache, and the Hub may not be asked (offline mode, local files
    /// only) or could not be reached (<c>LocalEntryNotFoundError</c>).</summary>
    LocalEntryNotFound,

    /// <summary>The Hub or its download host could not be reached while downloading (connection error or timeout after
    /// the retries, TLS failure).</summary>
    ConnectionFailed,

    /// <summary>A reply of the Hub did not follow the protocol: invalid JSON, a missing header, an unsafe file name.</summary>
    InvalidResponse,

    /// <summary>A downloaded file does not have the size or the SHA-256 the Hub announced.</summary>
    IntegrityCheckFailed,
}
