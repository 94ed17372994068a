namespace EDiffI.Plugins.UNet;

/// <summary>One generic conditioning slot of the U-Net, as <c>unet.json</c> lists it; a width of 0 leaves that part out.</summary>
/// <param name="Name">The stream (and conditioner) name that feeds it.</param>
/// <param name="Tokens">Width of the stream's tokens, projected to the context width and attended to after the built-in streams.</param>
/// <param name="Pooled">Width of the stream's pooled vector, projected (without bias, zero-initialised) into the time embedding.</param>
/// <param name="Channels">Channels of the stream's spatial map, convolved (without bias, zero-initialised) onto the first feature map.</param>
public sealed record StreamSlotConfig(string Name, int Tokens = 0, int Pooled = 0, int Channels = 0)
{
    /// <summary>Whether <paramref name="name"/> can name a slot (it becomes part of state-dict keys).</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 40 && char.IsAsciiLetterLower(name[0]) &&
        name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');
}
