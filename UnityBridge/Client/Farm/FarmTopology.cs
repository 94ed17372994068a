using System;
using System.Threading;
using System.Threading.Tasks;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;
using NATS.Client.ObjectStore;

namespace EDiffI.Bridge.Farm;

/// <summary>The farm's settings that live on the server: how long a job may go without a sign of life, and how long results are kept.</summary>
public sealed class FarmTopologyOptions
{
    /// <summary>
    /// How long a delivered job may go unacknowledged before the queue gives it to another worker. A running worker
    /// sends an in-progress acknowledgement every third of it, so only a dead or cut-off worker loses its job.
    /// </summary>
    public TimeSpan AckWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long results, job states and failed jobs are kept (set when the buckets are first made).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>
/// Makes what the farm needs on a JetStream server: the work-queue stream of jobs (file storage, explicit
/// acknowledgement through one shared durable pull consumer), the stream of failed jobs, the state bucket and the
/// result bucket, each with <see cref="FarmTopologyOptions.Retention"/>. Clients make what is missing; workers also
/// bring the consumer's acknowledgement wait up to their settings.
/// </summary>
public static class FarmTopology
{
    /// <summary>How long the job stream remembers a job id, so that a job published twice (a client's retry) is queued once.</summary>
    public static readonly TimeSpan DuplicateWindow = TimeSpan.FromMinutes(10);

    /// <summary>Makes what is missing; with <paramref name="updateConsumer"/> the consumer takes <paramref name="options"/>'s acknowledgement wait.</summary>
    public static async Task<(INatsKVStore States, INatsObjStore Results)> EnsureAsync(
        INatsJSContext js, FarmTopologyOptions options, bool updateConsumer, CancellationToken cancellationToken)
    {
        await EnsureStreamAsync(js, new StreamConfig(FarmNames.JobStream, new[] { FarmNames.JobSubject })
        {
            Retention = StreamConfigRetention.Workqueue,
            Storage = StreamConfigStorage.File,
            DuplicateWindow = DuplicateWindow,
        }, cancellationToken).ConfigureAwait(false);
        await EnsureStreamAsync(js, new StreamConfig(FarmNames.FailedStream, new[] { FarmNames.FailedSubject })
        {
            Storage = StreamConfigStorage.File,
            MaxAge = options.Retention,
        }, cancellationToken).ConfigureAwait(false);

        var consumer = new ConsumerConfig(FarmNames.WorkerConsumer)
        {
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            AckWait = options.AckWait,
            // Workers count deliveries themselves (FarmWorkerOptions.MaxDeliveries), so that a job whose every worker
            // died is still published to the failed subject instead of being dropped by the server.
            MaxDeliver = -1,
            FilterSubject = FarmNames.JobSubject,
        };
        if (updateConsumer) await js.CreateOrUpdateConsumerAsync(FarmNames.JobStream, consumer, cancellationToken).ConfigureAwait(false);
        else if (!await ExistsAsync(() => js.GetConsumerAsync(FarmNames.JobStream, FarmNames.WorkerConsumer, cancellationToken)).ConfigureAwait(false))
            await js.CreateOrUpdateConsumerAsync(FarmNames.JobStream, consumer, cancellationToken).ConfigureAwait(false);

        var kv = new NatsKVContext(js);
        INatsKVStore states;
        try
        {
            states = await kv.GetStoreAsync(FarmNames.StateBucket, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsKVException || e is NatsJSApiException { Error.Code: 404 })
        {
            states = await kv.CreateStoreAsync(new NatsKVConfig(FarmNames.StateBucket)
            {
                Storage = NatsKVStorageType.File,
                MaxAge = options.Retention,
                History = 1,
            }, cancellationToken).ConfigureAwait(false);
        }

        var objects = new NatsObjContext(js);
        INatsObjStore results;
        try
        {
            results = await objects.GetObjectStoreAsync(FarmNames.ResultBucket, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsObjException || e is NatsJSApiException { Error.Code: 404 })
        {
            results = await objects.CreateObjectStoreAsync(new NatsObjConfig(FarmNames.ResultBucket)
            {
                Storage = NatsObjStorageType.File,
                MaxAge = options.Retention,
            }, cancellationToken).ConfigureAwait(false);
        }
        return (states, results);
    }

    private static async Task EnsureStreamAsync(INatsJSContext js, StreamConfig config, CancellationToken cancellationToken)
    {
        if (!await ExistsAsync(() => js.GetStreamAsync(config.Name!, cancellationToken: cancellationToken)).ConfigureAwait(false))
            await js.CreateStreamAsync(config, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<bool> ExistsAsync<T>(Func<ValueTask<T>> get)
    {
        try
        {
            await get().ConfigureAwait(false);
            return true;
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            return false;
        }
    }
}
