namespace Spright.Diffusion.Tokenization;

/// <summary>
/// The text clean-up CLIPTokenizer runs on each piece of a prompt between added tokens, before its pattern splits
/// the piece into words. The result is lower-cased with single spaces.
/// </summary>
internal interface ITextCleaner
{
    /// <summary>Cleans one piece of text.</summary>
    string Clean(string text);
}
