using EDiffI.Host.Runtime;
using EDiffI.Networks;

namespace EDiffI.Host.Commands;

/// <summary>The network a command line's shape option names (<c>train --unet</c>, <c>train --grow</c>, <c>bench --unet</c>).</summary>
internal static class NetworkShapes
{
    /// <summary>
    /// A saved configuration when a file of that path exists (a <c>unet.json</c>, as a network folder keeps it), else the
    /// family's named shape as <paramref name="named"/> builds it; an unknown name is a <see cref="UserException"/> that
    /// says both ways, prefixed by <paramref name="option"/>.
    /// </summary>
    public static INetwork Create(INetworkFamily family, string shape, Func<string, INetwork> named, string option = "")
    {
        if (File.Exists(shape)) return family.FromConfig(File.ReadAllText(shape));
        try
        {
            return named(shape);
        }
        catch (ArgumentException e)
        {
            throw new UserException($"{option}{e.Message} Or pass the path of a saved configuration (unet.json).", e);
        }
    }
}
