namespace Spright.Diffusion.Hub;

/// <summary>
/// Progress of one file being downloaded from the Hub (<see cref="HubDownloadOptions.Progress"/>). Files downloaded in
/// parallel report through the same <see cref="IProgress{T}"/>, one report at a time; a file found in the cache reports
/// nothing.
/// </summary>
/// <param name="FileName">The file inside the repository, e.g. <c>unet/diffusion_pytorch_model.safetensors</c>.</param>
/// <param name="BytesDownloaded">Bytes of the file on disk so far (a resumed download starts at the bytes already there).</param>
/// <param name="TotalBytes">The file's size as the Hub announced it.</param>
/// <param name="IsCompleted">True on the file's last report: downloaded, checked and moved into the cache.</param>
public readonly record struct HubDownloadProgress(string FileName, long BytesDownloaded, long TotalBytes, bool IsCompleted);
