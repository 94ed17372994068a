namespace EDiffI.Host.Farm;

/// <summary>
/// A farm worker's settings (configuration section <c>Farm</c>, beside the connection settings of
/// <see cref="EDiffI.Bridge.Farm.FarmConnectOptions"/>; for example <c>--set Farm:MaxDeliveries=5</c>).
/// </summary>
public sealed class FarmWorkerOptions
{
    /// <summary>The name this worker writes into the state of the jobs it runs; default host name and process id.</summary>
    public string? WorkerName { get; set; }

    /// <summary>Seconds a job may go without an acknowledgement before another worker gets it; in-progress acknowledgements go every third of it.</summary>
    public double AckWaitSeconds { get; set; } = 30;

    /// <summary>Deliveries a job gets at most; after the last failed one it goes to the failed subject.</summary>
    public int MaxDeliveries { get; set; } = 3;

    /// <summary>Seconds before a job whose attempt failed is offered again.</summary>
    public double RetryDelaySeconds { get; set; } = 5;

    /// <summary>Hours results, states and failed jobs are kept (set when the buckets are made).</summary>
    public double ResultRetentionHours { get; set; } = 24;

    /// <summary>The worker's name, <see cref="WorkerName"/> or host name and process id.</summary>
    public string Name => string.IsNullOrWhiteSpace(WorkerName) ? $"{Environment.MachineName}-{Environment.ProcessId}" : WorkerName;

    /// <summary>The first setting out of range, as a message; null when all are fine.</summary>
    public string? Problem() =>
        AckWaitSeconds is < 1 or > 3600 ? $"Farm:AckWaitSeconds must be between 1 and 3600 (got {AckWaitSeconds})."
        : MaxDeliveries is < 1 or > 100 ? $"Farm:MaxDeliveries must be between 1 and 100 (got {MaxDeliveries})."
        : RetryDelaySeconds is < 0 or > 3600 ? $"Farm:RetryDelaySeconds must be between 0 and 3600 (got {RetryDelaySeconds})."
        : ResultRetentionHours is < 0.01 or > 24 * 365 ? $"Farm:ResultRetentionHours must be between 0.01 and 8760 (got {ResultRetentionHours})."
        : null;
}
