using EDiffI.Bridge.Protocol;

namespace EDiffI.Host.Bridge;

/// <summary>
/// The bridge's limits on untrusted input (configuration section <c>Bridge</c>, for example
/// <c>--set Bridge:MaxQueueDepth=16</c>). Anything outside them gets an error reply or, where the
/// stream can no longer be trusted, a closed connection.
/// </summary>
public sealed class BridgeOptions
{
    /// <summary>Largest frame read from a client, in bytes (a 1024² RGBA8 style image and scribble fit).</summary>
    public int MaxFrameBytes { get; set; } = 12 * 1024 * 1024;
    /// <summary>Longest prompt (and legend phrase), in characters.</summary>
    public int MaxPromptLength { get; set; } = 2000;
    /// <summary>Largest width or height a request may ask for.</summary>
    public int MaxResolution { get; set; } = 4096;
    /// <summary>Largest side of a style reference or scribble.</summary>
    public int MaxInputImageSide { get; set; } = 1024;
    /// <summary>Jobs the queue holds at most, queued and running, over all clients.</summary>
    public int MaxQueueDepth { get; set; } = 256;
    /// <summary>Jobs one connection may have queued or running at once.</summary>
    public int MaxJobsPerClient { get; set; } = 16;
    /// <summary>Most sampler steps.</summary>
    public int MaxSteps { get; set; } = 1000;
    /// <summary>Most colours in a paint-with-words legend.</summary>
    public int MaxLegendEntries { get; set; } = 32;
    /// <summary>Largest preview side.</summary>
    public int MaxPreviewSize { get; set; } = 128;
    /// <summary>Most connections open at once; one more is answered "busy" and closed.</summary>
    public int MaxConnections { get; set; } = 64;
    /// <summary>Seconds a new connection has to send its Hello.</summary>
    public double HandshakeTimeoutSeconds { get; set; } = 10;
    /// <summary>Progress messages waiting to be sent to one client beyond which further ones are dropped (a slow reader never stalls the device).</summary>
    public int MaxPendingProgress { get; set; } = 16;

    /// <summary>Replies waiting to be sent to one client beyond which the connection is closed (it sends without reading).</summary>
    public int MaxPendingReplies { get; set; } = 4096;

    /// <summary>The limits as the handshake tells them to clients.</summary>
    public BridgeLimitsInfo ToInfo() => new()
    {
        MaxFrameBytes = MaxFrameBytes,
        MaxPromptLength = MaxPromptLength,
        MaxResolution = MaxResolution,
        MaxInputImageSide = MaxInputImageSide,
        MaxQueueDepth = MaxQueueDepth,
        MaxJobsPerClient = MaxJobsPerClient,
        MaxSteps = MaxSteps,
        MaxLegendEntries = MaxLegendEntries,
        MaxPreviewSize = MaxPreviewSize,
    };
}
