namespace EDiffI.Extensibility;

/// <summary>The version of the contracts in this assembly, which every plugin records when it is built.</summary>
public static class PluginContract
{
    /// <summary>
    /// Breaking changes raise the major version: a plugin built for another major is refused. 2: <c>IEdmNetwork.Forward</c>
    /// takes σ beside c_noise, and <c>ISuperResolutionStage</c>'s methods take the tiling and the window layout.
    /// </summary>
    public const int Major = 2;

    /// <summary>
    /// Additions raise the minor version: a plugin built for a newer minor than the host's is refused. 1: the height
    /// estimators of the PBR maps (<c>Textures.IHeightEstimatorFactory</c>). 2: judged prompt sets for evaluation
    /// (<c>Evaluation.IJudgedPromptSetFactory</c>).
    /// </summary>
    public const int Minor = 2;

    /// <summary>"major.minor"; pass this constant to <see cref="EDiffIPluginAttribute"/> so it is baked into the plugin.</summary>
    public const string Version = "2.2";

    /// <summary>Why a plugin built against <paramref name="pluginContract"/> cannot run here, or null when it can.</summary>
    public static string? Incompatibility(string pluginContract)
    {
        var parts = pluginContract.Split('.');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int major) || !int.TryParse(parts[1], out int minor))
            return $"its contract version '{pluginContract}' is not of the form major.minor";
        if (major != Major)
            return $"it was built against contract {pluginContract}; this host implements {Version} (a different major version)";
        if (minor > Minor)
            return $"it was built against contract {pluginContract}, newer than this host's {Version}; update the host";
        return null;
    }
}
