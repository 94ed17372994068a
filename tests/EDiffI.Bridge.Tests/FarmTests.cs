using System.Diagnostics;
using EDiffI.Bridge.Farm;
using EDiffI.Bridge.Protocol;
using EDiffI.Host.Bridge;
using EDiffI.Host.Farm;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;

namespace EDiffI.Bridge.Tests;

/// <summary>
/// The texture farm against a real nats-server (JetStream, file storage): real host processes as workers, one
/// killed mid-job; a poison job; a server restart; cancel across workers; credentials.
/// </summary>
public class FarmTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);
    // Long enough that a job is still running when its worker is killed, short enough that twenty finish well within
    // Patience on a loaded 2-core CI machine (at 120 steps the test took 3 minutes there).
    private const int JobSteps = 60;

    [NatsFact]
    public async Task TwoHostsServeTwentyJobsAndTheJobOfAKilledOneIsRedeliveredToTheOther()
    {
        await using var nats = await NatsServer.StartAsync();
        var folder = Directory.CreateTempSubdirectory("ediffi-farm-").FullName;
        string model = Path.Combine(folder, "tiny");
        Directory.CreateDirectory(model);
        EndToEndTests.MakeTinyModel(model);
        using var a = await WorkerProcess.StartAsync(model, nats.Url, "A");
        using var b = await WorkerProcess.StartAsync(model, nats.Url, "B");
        try
        {
            await using var client = await FarmClient.ConnectAsync(new FarmConnectOptions { Url = nats.Url });
            var killed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var ids = new List<string>();
            var watches = new List<Task<FarmJobState>>();
            for (int i = 0; i < 20; i++)
            {
                string id = await client.SubmitAsync(new GenerateRequest { Prompt = "red stripes", Seed = 100 + i, Steps = JobSteps });
                ids.Add(id);
                watches.Add(client.WatchAsync(id, state: s =>
                {
                    if (s.Status == FarmJobStatus.Running && s.Worker == "A") killed.TrySetResult(id);
                }));
            }
            // The process, mid-job: its job has started on A and is not acknowledged.
            string victim = await killed.Task.WaitAsync(Patience);
            a.Process.Kill();
            string invalid = await client.SubmitAsync(new GenerateRequest { Prompt = "too big", Width = 512, Height = 512 });

            var finals = await Task.WhenAll(watches).WaitAsync(Patience);
            var refused = await client.WatchAsync(invalid).WaitAsync(Patience);

            Assert.All(finals, f => Assert.Equal(FarmJobStatus.Done, f.Status));
            var victimState = finals[ids.IndexOf(victim)];
            Assert.Equal("B", victimState.Worker);
            Assert.True(victimState.Deliveries >= 2, $"the killed worker's job was delivered {victimState.Deliveries} times");
            Assert.All(finals.Where((_, i) => ids[i] != victim), f => Assert.Equal(1, f.Deliveries));
            for (int i = 0; i < ids.Count; i++)
            {
                var result = await client.GetResultAsync(ids[i]);
                Assert.Equal((16, 16, 100L + i, JobSteps), (result.Width, result.Height, result.Seed, result.Settings.Steps));
            }
            // Exactly one result per job, none for the refused one.
            var results = await new NatsObjContext(new NatsJSContext(client.Connection)).GetObjectStoreAsync(FarmNames.ResultBucket);
            var names = new List<string>();
            await foreach (var info in results.ListAsync()) names.Add(info.Name);
            Assert.Equal(ids.Order(), names.Order());

            // The generation service's check, as over the bridge: refused at once, without retries, and published as failed.
            Assert.Equal((FarmJobStatus.Failed, ErrorCodes.Unsupported, 1), (refused.Status, refused.ErrorCode, refused.Deliveries));
            Assert.Contains("16×16", refused.ErrorMessage);
            var failed = await FailedJobsAsync(client.Connection, 1);
            Assert.Equal(invalid, failed[0].JobId);
            Assert.Equal(ErrorCodes.Unsupported, failed[0].Code);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [NatsFact]
    public async Task APoisonJobLandsInFailedAfterTheMostDeliveriesWithoutHoldingUpTheOthers()
    {
        await using var nats = await NatsServer.StartAsync();
        var executor = new FakeExecutor { ThrowFor = "poison" };
        await using var worker = await InProcessWorker.StartAsync(nats.Url, executor, "w1");
        await using var client = await FarmClient.ConnectAsync(new FarmConnectOptions { Url = nats.Url });

        string poison = await client.SubmitAsync(new GenerateRequest { Prompt = "poison", Seed = 1 });
        var good = new List<string>();
        for (int i = 0; i < 4; i++) good.Add(await client.SubmitAsync(new GenerateRequest { Prompt = "good " + i, Seed = i }));
        var poisonState = await client.WatchAsync(poison).WaitAsync(Patience);
        var goodStates = await Task.WhenAll(good.Select(id => client.WatchAsync(id))).WaitAsync(Patience);

        Assert.Equal((FarmJobStatus.Failed, ErrorCodes.FarmGaveUp, InProcessWorker.MaxDeliveries), (poisonState.Status, poisonState.ErrorCode, poisonState.Deliveries));
        Assert.Contains("the poison job 'poison' broke the generation", poisonState.ErrorMessage);
        Assert.Equal(InProcessWorker.MaxDeliveries, executor.Ran.Count(p => p == "poison"));
        // The others ran between its attempts: every one was done before it was given up.
        Assert.All(goodStates, s => Assert.Equal(FarmJobStatus.Done, s.Status));
        Assert.All(goodStates, s => Assert.True(s.UpdatedUnixMs <= poisonState.UpdatedUnixMs, "a good job waited for the poison job"));
        for (int i = 0; i < good.Count; i++)
            Assert.Equal(FakeExecutor.Image("good " + i, i), (await client.GetResultAsync(good[i])).Rgba);

        var failed = await FailedJobsAsync(client.Connection, 1);
        Assert.Equal((poison, ErrorCodes.FarmGaveUp), (failed[0].JobId, failed[0].Code));
        Assert.Equal("poison", ((GenerateRequest)BridgeSerializer.TryRead(failed[0].Job, out _)!).Prompt);
    }

    [NatsFact]
    public async Task QueuedJobsSurviveARestartOfTheServerWithFileStorage()
    {
        await using var nats = await NatsServer.StartAsync();
        var ids = new List<string>();
        await using (var before = await FarmClient.ConnectAsync(new FarmConnectOptions { Url = nats.Url }))
            for (int i = 0; i < 3; i++) ids.Add(await before.SubmitAsync(new GenerateRequest { Prompt = "kept " + i, Seed = i }));

        await nats.StopAsync();
        await nats.StartAgainAsync();

        await using var client = await FarmClient.ConnectAsync(new FarmConnectOptions { Url = nats.Url });
        foreach (string id in ids) Assert.Equal(FarmJobStatus.Queued, (await client.GetStateAsync(id))!.Status);
        var executor = new FakeExecutor();
        await using var worker = await InProcessWorker.StartAsync(nats.Url, executor, "after-restart");
        var finals = await Task.WhenAll(ids.Select(id => client.WatchAsync(id))).WaitAsync(Patience);
        Assert.All(finals, f => Assert.Equal((FarmJobStatus.Done, "after-restart"), (f.Status, f.Worker)));
        for (int i = 0; i < ids.Count; i++) Assert.Equal(FakeExecutor.Image("kept " + i, i), (await client.GetResultAsync(ids[i])).Rgba);
    }

    [NatsFact]
    public async Task CancelReachesARunningJobOnAnotherWorkerAndDropsAQueuedOne()
    {
        await using var nats = await NatsServer.StartAsync();
        var permits = new SemaphoreSlim(0);
        var executor = new FakeExecutor { StepPermits = permits };
        await using var worker = await InProcessWorker.StartAsync(nats.Url, executor, "far-away");
        await using var client = await FarmClient.ConnectAsync(new FarmConnectOptions { Url = nats.Url });

        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new List<Progress>();
        string first = await client.SubmitAsync(new GenerateRequest { Prompt = "first", Seed = 1 });
        var firstWatch = client.WatchAsync(first, p => { lock (progress) progress.Add(p); }, s => { if (s.Status == FarmJobStatus.Running) running.TrySetResult(); });
        string second = await client.SubmitAsync(new GenerateRequest { Prompt = "second", Seed = 2 });
        string third = await client.SubmitAsync(new GenerateRequest { Prompt = "third", Seed = 3 });
        await running.Task.WaitAsync(Patience);

        Assert.True(await client.CancelAsync(second)); // still queued: the worker pulls one job at a time
        permits.Release(); // one step of the first job runs, so its progress reaches us before the cancel
        Assert.True(await client.CancelAsync(first));
        var firstFinal = await firstWatch.WaitAsync(Patience);
        await executor.Cancelled.Task.WaitAsync(Patience);
        permits.Release(100);
        var thirdFinal = await client.WatchAsync(third).WaitAsync(Patience);

        Assert.Equal((FarmJobStatus.Cancelled, true, "far-away"), (firstFinal.Status, firstFinal.WasRunning, firstFinal.Worker));
        Assert.Equal(FarmJobStatus.Done, thirdFinal.Status);
        var secondFinal = (await client.GetStateAsync(second))!;
        Assert.Equal((FarmJobStatus.Cancelled, false), (secondFinal.Status, secondFinal.WasRunning));
        Assert.Equal(["first", "third"], executor.Ran); // the cancelled queued job never ran
        Assert.False(await client.CancelAsync(third)); // done already
        var noResult = await Assert.ThrowsAsync<BridgeException>(() => client.GetResultAsync(first));
        Assert.Contains("cancelled while running on far-away", noResult.Message);
    }

    [NatsFact]
    public async Task ATokenComesFromAFileOrTheEnvironmentNeverFromTheAddress()
    {
        await using var nats = await NatsServer.StartAsync("--auth", "s3cret-token");
        string tokenFile = Path.Combine(nats.Folder, "token");
        await File.WriteAllTextAsync(tokenFile, "s3cret-token\n");

        await using (var fromFile = await FarmClient.ConnectAsync(new FarmConnectOptions { Url = nats.Url, TokenFile = tokenFile }))
            Assert.NotNull(await fromFile.SubmitAsync(new GenerateRequest { Prompt = "with a token" }));
        var fromEnvironment = new FarmConnectOptions { Url = nats.Url }.ToNatsOpts(name => name == FarmConnectOptions.TokenVariable ? "s3cret-token" : null);
        Assert.Equal("s3cret-token", fromEnvironment.AuthOpts.Token);

        var refused = await Assert.ThrowsAsync<BridgeException>(() => FarmClient.ConnectAsync(new FarmConnectOptions { Url = nats.Url }));
        Assert.Equal(ErrorCodes.FarmUnreachable, refused.Code);
        Assert.Contains(nats.Url, refused.Message);

        var inAddress = Assert.Throws<BridgeException>(() => new FarmConnectOptions { Url = $"nats://s3cret-token@127.0.0.1:{nats.Port}" }.ToNatsOpts());
        Assert.Equal(ErrorCodes.FarmSettings, inAddress.Code);
        Assert.DoesNotContain("s3cret", inAddress.Message);
        var missing = Assert.Throws<BridgeException>(() => new FarmConnectOptions { Url = nats.Url, TokenFile = tokenFile + ".missing" }.ToNatsOpts());
        Assert.Contains("does not exist", missing.Message);
        var userWithoutPassword = Assert.Throws<BridgeException>(() => new FarmConnectOptions { Url = nats.Url, User = "artist" }.ToNatsOpts(_ => null));
        Assert.Contains(FarmConnectOptions.PasswordVariable, userWithoutPassword.Message);
    }

    // The first `count` messages of the failed-jobs stream: job id, error code, the job's bytes.
    private static async Task<List<(string JobId, string Code, byte[] Job)>> FailedJobsAsync(INatsConnection connection, int count)
    {
        var js = new NatsJSContext(connection);
        var consumer = await js.CreateOrderedConsumerAsync(FarmNames.FailedStream);
        var found = new List<(string, string, byte[])>();
        using var timeout = new CancellationTokenSource(Patience);
        await foreach (var msg in consumer.ConsumeAsync(NatsRawSerializer<byte[]>.Default, cancellationToken: timeout.Token))
        {
            found.Add((msg.Headers![FarmNames.JobIdHeader].ToString(), msg.Headers[FarmNames.ErrorCodeHeader].ToString(), msg.Data ?? []));
            if (found.Count == count) break;
        }
        return found;
    }

    /// <summary>A farm worker in this process, on a <see cref="JobQueue"/> of its own, with short waits for the tests.</summary>
    private sealed class InProcessWorker : IAsyncDisposable
    {
        public const int MaxDeliveries = 3;
        private readonly JobQueue _queue;
        private readonly FarmWorker _worker;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;

        private InProcessWorker(JobQueue queue, FarmWorker worker)
        {
            _queue = queue;
            _worker = worker;
            _run = worker.RunAsync(_stop.Token);
        }

        public static async Task<InProcessWorker> StartAsync(string url, IJobExecutor executor, string name)
        {
            var queue = new JobQueue(executor, 16, 16);
            var options = new FarmWorkerOptions { WorkerName = name, AckWaitSeconds = 3, MaxDeliveries = MaxDeliveries, RetryDelaySeconds = 0.3 };
            var worker = await FarmWorker.StartAsync(new FarmConnectOptions { Url = url }, options, queue, executor, new BridgeOptions(), null, CancellationToken.None);
            return new InProcessWorker(queue, worker);
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            await _run;
            await _worker.DisposeAsync();
            _queue.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>`dotnet EDiffI.Host.dll serve --farm URL --farm-only`, ready once it says it pulls jobs.</summary>
    private sealed class WorkerProcess : IDisposable
    {
        private readonly List<string> _log = [];

        private WorkerProcess(Process process) => Process = process;

        public Process Process { get; }

        public string Log { get { lock (_log) return string.Join('\n', _log); } }

        public static async Task<WorkerProcess> StartAsync(string model, string url, string name)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string arg in new[] { EndToEndTests.HostDll(), "serve", "--farm", url, "--farm-only", "--model", model,
                "--set", $"Farm:WorkerName={name}", "--set", "Farm:AckWaitSeconds=2", "--set", "Farm:RetryDelaySeconds=0.2" })
                info.ArgumentList.Add(arg);
            var process = new Process { StartInfo = info, EnableRaisingEvents = true };
            var worker = new WorkerProcess(process);
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void Line(object? _, DataReceivedEventArgs e)
            {
                if (e.Data is null) return;
                lock (worker._log) worker._log.Add(e.Data);
                if (e.Data.StartsWith($"farm worker {name} pulling jobs", StringComparison.Ordinal)) ready.TrySetResult();
            }
            process.OutputDataReceived += Line;
            process.ErrorDataReceived += Line;
            process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"worker {name} stopped:\n{worker.Log}"));
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await ready.Task.WaitAsync(Patience);
            return worker;
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill();
            Process.WaitForExit(10_000);
            Process.Dispose();
        }
    }
}
