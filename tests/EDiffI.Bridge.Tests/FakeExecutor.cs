using EDiffI.Bridge.Protocol;
using EDiffI.Host.Bridge;

namespace EDiffI.Bridge.Tests;

/// <summary>
/// An executor without a model, for driving the queue: the image is a fixed function of prompt and
/// seed; each step waits <see cref="StepDelay"/> and checks cancellation like a sampler between
/// evaluations. With <see cref="StepPermits"/> set, each step instead waits for the test to release
/// one permit (or for the job's cancellation), so a test paces the steps itself. It records the order
/// jobs ran in and which were cancelled while running, and signals <see cref="Cancelled"/>.
/// </summary>
internal sealed class FakeExecutor : IJobExecutor
{
    public const int Side = 8;
    private readonly List<string> _ran = [];

    public TimeSpan StepDelay { get; set; } = TimeSpan.FromMilliseconds(1);
    public int StepsPerJob { get; set; } = 4;
    public int CancelledWhileRunning;
    public ManualResetEventSlim? Gate { get; set; }
    public ManualResetEventSlim Started { get; } = new(false);

    /// <summary>A prompt whose jobs throw on every run, as a job that crashes the generation would (a poison job).</summary>
    public string? ThrowFor { get; set; }

    /// <summary>When set, every step takes one permit first; the job waits for it, or for its cancellation.</summary>
    public SemaphoreSlim? StepPermits { get; set; }

    /// <summary>Completes when a running job has seen its cancellation and stopped.</summary>
    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ModelInfo Model { get; } = new() { Name = "fake", Resolution = Side, DefaultSteps = 4, DefaultGuidance = 1, DefaultSampler = "fake" };
    public IReadOnlyList<string> Samplers { get; } = ["fake"];
    public IReadOnlyCollection<string> Capabilities { get; } = [EDiffI.Bridge.Protocol.Capabilities.Generate, EDiffI.Bridge.Protocol.Capabilities.Preview];

    public IReadOnlyList<string> Ran { get { lock (_ran) return [.. _ran]; } }

    public BridgeError? Check(GenerateRequest request) =>
        request.Sampler is { } s && s != "fake" ? new BridgeError { Code = ErrorCodes.InvalidRequest, Message = $"Unknown sampler '{s}'." } : null;

    public GenerateResult Execute(GenerateRequest request, Action<Progress> progress, CancellationToken cancellationToken)
    {
        lock (_ran) _ran.Add(request.Prompt);
        Started.Set();
        if (request.Prompt == ThrowFor) throw new InvalidOperationException($"the poison job '{request.Prompt}' broke the generation");
        Gate?.Wait(TimeSpan.FromSeconds(60), CancellationToken.None);
        try
        {
            for (int i = 0; i < StepsPerJob; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (StepPermits is { } permits)
                {
                    if (!permits.Wait(TimeSpan.FromSeconds(60), cancellationToken)) throw new TimeoutException("the test released no step permit for 60 s");
                }
                else if (StepDelay > TimeSpan.Zero) Thread.Sleep(StepDelay);
                progress(new Progress { RequestId = request.RequestId, Stage = Stages.Sampling, Step = i, Steps = StepsPerJob, Sigma = 80.0 / (i + 1) });
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref CancelledWhileRunning);
            Cancelled.TrySetResult();
            throw;
        }
        long seed = request.Seed ?? 7;
        return new GenerateResult
        {
            Width = Side, Height = Side, Rgba = Image(request.Prompt, seed), Seed = seed,
            Settings = new GenerationSettings { Prompt = request.Prompt, Steps = StepsPerJob, Sampler = "fake", Width = Side, Height = Side, Model = "fake" },
        };
    }

    /// <summary>The image a prompt and seed give.</summary>
    public static byte[] Image(string prompt, long seed)
    {
        var rgba = new byte[Side * Side * 4];
        uint h = (uint)seed * 2654435761u;
        foreach (char c in prompt) h = (h ^ c) * 16777619u;
        for (int i = 0; i < rgba.Length; i++)
        {
            h ^= h << 13; h ^= h >> 17; h ^= h << 5;
            rgba[i] = (byte)h;
        }
        return rgba;
    }
}

/// <summary>A server on a fresh socket in a fresh owner-only folder.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    public TestServer(IJobExecutor executor, BridgeOptions? options = null)
    {
        Folder = Directory.CreateTempSubdirectory("ediffi-bridge-").FullName;
        SocketPath = Path.Combine(Folder, "b.sock");
        Server = new BridgeServer(executor, options ?? new BridgeOptions());
        Server.ListenUnix(SocketPath);
    }

    public string Folder { get; }
    public string SocketPath { get; }
    public BridgeServer Server { get; }
    public BridgeEndpoint Endpoint => BridgeEndpoint.Unix(SocketPath);

    public Task<BridgeClient> ConnectAsync() => BridgeClient.ConnectAsync(Endpoint);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
