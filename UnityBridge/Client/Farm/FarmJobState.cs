using System;
using EDiffI.Bridge.Protocol;
using MessagePack;

namespace EDiffI.Bridge.Farm;

/// <summary>Where a farm job is (the value of <see cref="FarmJobState.Status"/>).</summary>
public static class FarmJobStatus
{
    /// <summary>Waiting in the queue (again, after a failed attempt, with <see cref="FarmJobState.ErrorMessage"/> set).</summary>
    public const string Queued = "queued";

    /// <summary>A worker (<see cref="FarmJobState.Worker"/>) is drawing it.</summary>
    public const string Running = "running";

    /// <summary>Finished: the result is in the result bucket under the job id.</summary>
    public const string Done = "done";

    /// <summary>Given up: the request is invalid or the job failed on its last allowed delivery (the error says which).</summary>
    public const string Failed = "failed";

    /// <summary>Cancelled by a client, before or while it ran.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>True for the states a job never leaves.</summary>
    public static bool IsFinal(string status) => status is Done or Failed or Cancelled;
}

/// <summary>
/// A job's entry in the state bucket, written by the client that submits or cancels it and by the worker that runs it.
/// MessagePack with integer keys only ever appended, read with the bridge's untrusted-data options.
/// </summary>
[MessagePackObject]
public sealed class FarmJobState
{
    /// <summary>See <see cref="FarmJobStatus"/>.</summary>
    [Key(0)]
    public string Status { get; set; } = FarmJobStatus.Queued;

    /// <summary>The worker running it or that ran it last; null while it never ran.</summary>
    [Key(1)]
    public string? Worker { get; set; }

    /// <summary>How many times the queue has handed the job to a worker so far (1 on the first run).</summary>
    [Key(2)]
    public int Deliveries { get; set; }

    /// <summary>The error code (see <see cref="ErrorCodes"/>) of a failed job, or of the last failed attempt of a queued one.</summary>
    [Key(3)]
    public string? ErrorCode { get; set; }

    /// <summary>What went wrong, for a person.</summary>
    [Key(4)]
    public string? ErrorMessage { get; set; }

    /// <summary>When this state was written (UTC, Unix milliseconds).</summary>
    [Key(5)]
    public long UpdatedUnixMs { get; set; } = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>For a cancelled job: whether it had started on a worker.</summary>
    [Key(6)]
    public bool WasRunning { get; set; }

    /// <summary>The prompt, so that a listing of jobs says what each is.</summary>
    [Key(7)]
    public string? Prompt { get; set; }

    /// <summary>The state's bytes.</summary>
    public byte[] ToBytes() => MessagePackSerializer.Serialize(this, BridgeSerializer.Options);

    /// <summary>Reads a state; null when the bytes are not one.</summary>
    public static FarmJobState? TryRead(byte[]? bytes)
    {
        if (bytes is null || bytes.Length == 0) return null;
        try
        {
            return MessagePackSerializer.Deserialize<FarmJobState>(bytes, BridgeSerializer.Options);
        }
        catch (MessagePackSerializationException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Status switch
    {
        FarmJobStatus.Running => $"running on {Worker} (delivery {Deliveries})",
        FarmJobStatus.Done => $"done by {Worker} (delivery {Deliveries})",
        FarmJobStatus.Failed => $"failed after {Deliveries} deliveries: {ErrorCode}: {ErrorMessage}",
        FarmJobStatus.Cancelled => WasRunning ? $"cancelled while running on {Worker}" : "cancelled before it ran",
        _ => ErrorMessage is null ? "queued" : $"queued again after {Deliveries} deliveries (last: {ErrorMessage})",
    };
}
