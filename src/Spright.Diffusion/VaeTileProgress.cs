namespace Spright.Diffusion;

/// <summary>Progress of a tiled VAE decode or encode (see <see cref="StableDiffusionPipelineBase.EnableVaeTiling"/>): a
/// large image on the CPU takes minutes, one tile at a time.</summary>
/// <param name="Tile">Tiles finished (1-based).</param>
/// <param name="Tiles">Tiles in this decode (or encode), over every image of the batch slice.</param>
/// <param name="Encoding">Whether the tiles are the VAE encoder's (image-to-image input) rather than the decoder's.</param>
/// <param name="Elapsed">Time since the first tile started.</param>
public readonly record struct VaeTileProgress(int Tile, int Tiles, bool Encoding, TimeSpan Elapsed);
