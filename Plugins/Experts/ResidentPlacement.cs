using EDiffI.Experts;

namespace EDiffI.Plugins.Experts;

/// <summary>Resident mode: every expert stays on the device; nothing moves.</summary>
public sealed class ResidentPlacement : IExpertPlacement
{
    /// <inheritdoc />
    public void Activate(int expert) { }
}
