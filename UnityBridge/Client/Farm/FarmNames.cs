using System;

namespace EDiffI.Bridge.Farm;

/// <summary>
/// Where the farm keeps things on the NATS server: one work-queue stream of jobs, one stream of failed jobs, a
/// key-value bucket of job states, an object store bucket of results, and two plain NATS subjects per job (progress
/// and cancel). Workers and clients agree on these names; a farm is one set of them on one JetStream domain.
/// </summary>
public static class FarmNames
{
    /// <summary>The work-queue stream jobs wait in until a worker acknowledges them.</summary>
    public const string JobStream = "EDIFFI_JOBS";

    /// <summary>The subject a job is published to.</summary>
    public const string JobSubject = "ediffi.farm.jobs";

    /// <summary>The durable pull consumer every worker shares: each job goes to one worker at a time.</summary>
    public const string WorkerConsumer = "ediffi-workers";

    /// <summary>The stream that keeps failed jobs (with their error) for inspection.</summary>
    public const string FailedStream = "EDIFFI_FAILED";

    /// <summary>The subject a failed job is published to, with its request and the error.</summary>
    public const string FailedSubject = "ediffi.farm.failed";

    /// <summary>The key-value bucket of job states (key: the job id).</summary>
    public const string StateBucket = "ediffi-jobs";

    /// <summary>The object store bucket of results (object name: the job id).</summary>
    public const string ResultBucket = "ediffi-results";

    /// <summary>The header that carries the job id on a job and on a failed job.</summary>
    public const string JobIdHeader = "EDiffI-Job";

    /// <summary>The header of a failed job with its error code.</summary>
    public const string ErrorCodeHeader = "EDiffI-Error-Code";

    /// <summary>The header of a failed job with its error message.</summary>
    public const string ErrorMessageHeader = "EDiffI-Error";

    /// <summary>The subject of a job's progress messages (a bridge <c>Progress</c> each).</summary>
    public static string ProgressSubject(string jobId) => "ediffi.farm.progress." + jobId;

    /// <summary>The subject a cancel of a job is published to; every worker listens to <see cref="CancelWildcard"/>.</summary>
    public static string CancelSubject(string jobId) => "ediffi.farm.cancel." + jobId;

    /// <summary>All cancels.</summary>
    public const string CancelWildcard = "ediffi.farm.cancel.*";

    /// <summary>Longest job id.</summary>
    public const int MaxJobIdLength = 64;

    /// <summary>
    /// Null when <paramref name="jobId"/> can name a job (1 to 64 letters, digits, '-' or '_': it is a subject
    /// token, a key and an object name), else why not.
    /// </summary>
    public static string? CheckJobId(string? jobId)
    {
        if (string.IsNullOrEmpty(jobId)) return "A job id is needed.";
        if (jobId!.Length > MaxJobIdLength) return $"A job id has at most {MaxJobIdLength} characters (got {jobId.Length}).";
        foreach (char c in jobId)
            if (!(c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-' or '_'))
                return $"A job id is made of letters, digits, '-' and '_' only (got '{jobId}').";
        return null;
    }

    /// <summary>A fresh job id (32 hex digits).</summary>
    public static string NewJobId() => Guid.NewGuid().ToString("N");
}
