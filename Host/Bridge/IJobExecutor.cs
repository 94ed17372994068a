using EDiffI.Bridge.Protocol;

namespace EDiffI.Host.Bridge;

/// <summary>
/// Runs one generation at a time for the job queue: the model on its device. The queue calls
/// <see cref="Execute"/> from its single worker thread only.
/// </summary>
public interface IJobExecutor
{
    /// <summary>The model served.</summary>
    ModelInfo Model { get; }

    /// <summary>The sampler names requests may use.</summary>
    IReadOnlyList<string> Samplers { get; }

    /// <summary>What the host can do (see <see cref="EDiffI.Bridge.Protocol.Capabilities"/>); sent in the handshake.</summary>
    IReadOnlyCollection<string> Capabilities { get; }

    /// <summary>Checks what only the executor knows (sampler names, sizes the model draws); null when the request can run.</summary>
    BridgeError? Check(GenerateRequest request);

    /// <summary>
    /// Draws the image of <paramref name="request"/>, reporting each sampler step to
    /// <paramref name="progress"/>; throws <see cref="OperationCanceledException"/> between two
    /// evaluations once <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    GenerateResult Execute(GenerateRequest request, Action<Progress> progress, CancellationToken cancellationToken);
}
