using System.Net;
using EDiffI.Data;
using EDiffI.Host.Runtime;
using EDiffI.Host.Training;
using EDiffI.Host.Training.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>
/// An in-process communicator: the ranks are threads of one test, and every collective meets at a barrier, so the
/// trainer's data-parallel path runs for real on the CPU.
/// </summary>
internal sealed class FakeCommunicator(FakeCommunicator.Group group, int rank) : ICommunicator
{
    /// <summary>What the ranks of one fake run share.</summary>
    public sealed class Group(int worldSize) : IDisposable
    {
        public void Dispose() => Barrier.Dispose();
        public readonly Barrier Barrier = new(worldSize);
        public readonly Tensor?[] Slots = new Tensor?[worldSize];
        public int WorldSize => worldSize;
        public FakeCommunicator[] Ranks() => Enumerable.Range(0, worldSize).Select(r => new FakeCommunicator(this, r)).ToArray();
        public readonly (int Color, int Key)[] Splits = new (int, int)[worldSize];
        public FakeCommunicator[] SplitRanks = [];
    }

    public int Rank => rank;
    public int WorldSize => group.WorldSize;
    public Device Device => CPU;

    public void AllReduceSum(Tensor tensor)
    {
        group.Slots[rank] = tensor.detach().clone();
        group.Barrier.SignalAndWait();
        // Every rank adds the slots in rank order, as one reduction would, so all end with the same bits.
        using (no_grad())
        {
            var sum = group.Slots[0]!.clone();
            for (int r = 1; r < WorldSize; r++) sum.add_(group.Slots[r]!);
            tensor.copy_(sum);
        }
        group.Barrier.SignalAndWait();
        group.Slots[rank]!.Dispose();
    }

    public void Broadcast(Tensor tensor, int root)
    {
        if (rank == root) group.Slots[root] = tensor.detach().clone();
        group.Barrier.SignalAndWait();
        using (no_grad()) if (rank != root) tensor.copy_(group.Slots[root]!);
        group.Barrier.SignalAndWait();
        if (rank == root) group.Slots[root]!.Dispose();
    }

    // Rank 0 makes every new group from the table of colors and keys; each rank takes its own.
    public ICommunicator Split(int color, int key)
    {
        group.Splits[rank] = (color, key);
        group.Barrier.SignalAndWait();
        if (rank == 0)
        {
            var made = new FakeCommunicator[WorldSize];
            foreach (var members in Enumerable.Range(0, WorldSize).GroupBy(r => group.Splits[r].Color))
            {
                var ordered = members.OrderBy(r => group.Splits[r].Key).ThenBy(r => r).ToList();
                var sub = new Group(ordered.Count);
                for (int i = 0; i < ordered.Count; i++) made[ordered[i]] = new FakeCommunicator(sub, i);
            }
            group.SplitRanks = made;
        }
        group.Barrier.SignalAndWait();
        var mine = group.SplitRanks[rank];
        group.Barrier.SignalAndWait(); // before rank 0 may make the next split's table
        return mine;
    }

    public void ThrowIfFailed() { }

    public void Dispose() { }
}

/// <summary>A source that records every batch it was asked for (its global size and the share), over FixedImages.</summary>
internal sealed class RecordingImages(FixedImages inner) : IDatasetSource
{
    public readonly List<(int Batch, BatchShare Share, string[] Captions)> Drawn = [];
    public int Resolution => inner.Resolution;
    public long? Count => inner.Count;
    public TrainingBatch NextBatch(int batchSize, Generator generator) => Record(batchSize, new BatchShare(0, batchSize), inner.NextBatch(batchSize, generator));
    public TrainingBatch NextBatch(int batchSize, Generator generator, BatchShare share) =>
        Record(batchSize, share, ((IDatasetSource)inner).NextBatch(batchSize, generator, share));
    private TrainingBatch Record(int batch, BatchShare share, TrainingBatch drawn)
    {
        lock (Drawn) Drawn.Add((batch, share, [.. drawn.Captions]));
        return drawn;
    }
}

public class DistributedTests
{
    private static TrainingOptions Options(long steps) => new()
    {
        BatchSize = 4, Steps = steps, LearningRate = 2e-3, WarmupSteps = 5, CheckpointEvery = 2, Seed = 11, DropProbability = 0.2,
    };

    private static Trainer Create(TrainingOptions o, IDatasetSource data, string folder, string? resume = null, ICommunicator? communicator = null,
        Func<EDiffI.Networks.INetwork>? network = null) =>
        new(o, new EDiffI.Plugins.UNet.UNetFamily(), network ?? (communicator is null ? Network(o.Seed)
                : throw new InvalidOperationException("a fake rank's network is prepared on the test's thread (Network)")), TinyModel.Manifest,
            TinyModel.T5(), TinyModel.Clip(), data, CPU, ScalarType.Float32, folder, resume,
            parallel: communicator is null ? null : new DataParallel(communicator));

    // The global RNG is process-wide, and the trainer seeds it (manual_seed) right before it calls its network factory. Fake
    // ranks built at once on several threads therefore reseed it in the middle of one another's construction, whatever lock
    // the factory holds: rank 0 then started from other weights than one process of the same seed, and after the broadcast
    // every rank trained those (the gradients of two ranks looked unlike one rank's, while the first loss, which the
    // zero-initialised output layer makes independent of the inner weights, agreed). So a network is built here, on the
    // calling thread (call it before the ranks start), and the factory returned gives each trainer a copy of its weights,
    // whatever the global RNG holds then. Dropout inside the network draws from that RNG too (per process, so no rank split
    // can reproduce one process's masks): off here, so that the equivalence is exact.
    private static Func<EDiffI.Networks.INetwork> Network(long seed)
    {
        manual_seed(seed);
        Dictionary<string, Tensor> initial;
        using (var built = new EDiffI.Plugins.UNet.EDiffIUNet(TinyModel.Config with { Dropout = 0 }))
            initial = built.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        return () =>
        {
            var network = new EDiffI.Plugins.UNet.EDiffIUNet(TinyModel.Config with { Dropout = 0 });
            using var noGrad = no_grad();
            foreach (var (name, parameter) in network.named_parameters()) parameter.copy_(initial[name]);
            return network;
        };
    }

    // Runs one body per fake rank on its own thread and waits for all; an exception on any rank fails the test.
    private static T[] OnRanks<T>(int worldSize, Func<ICommunicator, T> body)
    {
        using var group = new FakeCommunicator.Group(worldSize);
        var ranks = group.Ranks();
        var results = new T[worldSize];
        var errors = new Exception?[worldSize];
        var threads = ranks.Select((c, r) => new Thread(() =>
        {
            try { results[r] = body(c); }
            catch (Exception e) { errors[r] = e; group.Barrier.RemoveParticipant(); }
        }, 16 << 20)).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (errors.FirstOrDefault(e => e is not null) is { } error) throw new AggregateException(error);
        return results;
    }

    private static Dictionary<string, Tensor> Grads(Trainer t) =>
        t.Model.Module.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone());

    private static Dictionary<string, Tensor> Weights(Trainer t) =>
        t.Model.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    private static double MaxDifference(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b)
    {
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        return a.Keys.Max(k => (a[k] - b[k]).abs().max().item<float>());
    }

    [Fact]
    public void BucketsFlattenAndUnflattenAtTheirBoundaries()
    {
        // 16-byte buckets of float32: [3] and [1] share one, [2, 2] fills one, [5] is larger than a bucket and goes alone.
        var tensors = new List<Tensor> { arange(3f), arange(1f) + 10, arange(4f).view(2, 2) + 20, arange(5f) + 30, tensor(new[] { 1.0, 2.0 }) };
        using var buckets = new TensorBuckets(tensors, bucketBytes: 16);
        Assert.Equal([(0, 2), (2, 1), (3, 1), (4, 1)], buckets.Buckets.Select(b => (b.First, b.Count)));
        Assert.Equal([4L, 4, 5, 2], buckets.Buckets.Select(b => b.Buffer.NumberOfElements));
        Assert.Equal(ScalarType.Float64, buckets.Buckets[3].Buffer.dtype); // dtypes never share a bucket
        var copies = tensors.Select(t => zeros_like(t)).ToList<Tensor?>();
        foreach (var b in buckets.Buckets)
        {
            var flat = buckets.Flatten(b, tensors);
            Assert.Equal(tensors.Skip(b.First).Take(b.Count).SelectMany(t => t.reshape(-1).to(ScalarType.Float64).data<double>().ToArray()),
                flat.to(ScalarType.Float64).data<double>().ToArray());
            buckets.Unflatten(b, copies);
        }
        for (int i = 0; i < tensors.Count; i++) Assert.True(tensors[i].allclose(copies[i]!, rtol: 0, atol: 0), $"tensor {i} came back changed");
        // A missing tensor (no gradient) is sent as zeros and left missing.
        var withHole = new List<Tensor?> { tensors[0], null, tensors[2], tensors[3], tensors[4] };
        Assert.Equal([0f, 1, 2, 0], buckets.Flatten(buckets.Buckets[0], withHole).data<float>().ToArray());
    }

    [Fact]
    public void AllReduceMeanAveragesOverTheRanks()
    {
        var means = OnRanks(3, c =>
        {
            var mine = new List<Tensor?> { full(4, (float)c.Rank), full(new long[] { 2, 3 }, 10f * (c.Rank + 1)) };
            using var buckets = new TensorBuckets(mine!, bucketBytes: 24);
            buckets.AllReduceMean(c, mine);
            return mine.Select(t => t!.data<float>().ToArray()).ToArray();
        });
        foreach (var m in means)
        {
            Assert.All(m[0], v => Assert.Equal(1f, v)); // (0 + 1 + 2) / 3
            Assert.All(m[1], v => Assert.Equal(20f, v)); // (10 + 20 + 30) / 3
        }
    }

    // What a run of 3 steps leaves: the weights before the first step, its loss and (clipped) gradients, the weights after.
    private sealed record ThreeSteps(Dictionary<string, Tensor> Start, double Loss, Dictionary<string, Tensor> Grads, Dictionary<string, Tensor> Weights);

    private static ThreeSteps TrainThreeSteps(Trainer t)
    {
        var start = Weights(t);
        double loss = t.TrainStep();
        var grads = Grads(t);
        t.TrainStep();
        t.TrainStep();
        return new ThreeSteps(start, loss, grads, Weights(t));
    }

    // One rank at batch 4, then two fake ranks at 2 each, from the same seed.
    private static (ThreeSteps One, ThreeSteps[] Two) OneRankAndTwo()
    {
        using var data = new FixedImages();
        ThreeSteps one;
        using (var folder = new TinyModel.TempFolder())
        using (var t = Create(Options(3), data, folder.Path))
            one = TrainThreeSteps(t);
        using var shared = new TinyModel.TempFolder();
        var network = Network(Options(3).Seed);
        var two = OnRanks(2, c =>
        {
            using var t = Create(Options(3), data, shared.Path, communicator: c, network: network);
            return TrainThreeSteps(t);
        });
        return (one, two);
    }

    [Fact]
    public void TwoRanksAtHalfTheBatchTakeTheStepOfOneRankAtTheWholeBatch()
    {
        var (one, two) = OneRankAndTwo();
        // The ranks hold the same bits: they averaged the same gradients and took the same step.
        Assert.Equal(0, MaxDifference(two[0].Grads, two[1].Grads));
        Assert.Equal(0, MaxDifference(two[0].Weights, two[1].Weights));
        Assert.Equal(two[0].Loss, two[1].Loss);
        // They start from the weights of one process of the same seed, bit for bit (the first loss cannot show that: the
        // zero-initialised output layer makes it independent of the inner weights).
        Assert.Equal(0, MaxDifference(one.Start, two[0].Start));
        // And the loss of one rank at batch 4, up to float rounding (the mean over 2 + 2 samples is summed in another order).
        Assert.Equal(one.Loss, two[0].Loss, 1e-6);
    }

    [Fact]
    public void TwoRanksAtHalfTheBatchAverageToOneRanksGradient()
    {
        var (one, two) = OneRankAndTwo();
        // Up to float rounding, relative to the gradients' scale: the averaged gradient is one rank's at the whole batch,
        // and three steps later so are the weights.
        double scale = one.Grads.Values.Max(g => g.abs().max().item<float>());
        Assert.True(scale > 0, "the first step has no gradient to compare");
        double gradDiff = MaxDifference(one.Grads, two[0].Grads), weightDiff = MaxDifference(one.Weights, two[0].Weights);
        Assert.True(gradDiff <= 1e-5 * scale, $"averaged gradients differ by {gradDiff} (largest gradient {scale})");
        Assert.True(weightDiff < 1e-4, $"weights after 3 steps differ by {weightDiff}");
        Assert.True(MaxDifference(one.Start, one.Weights) > 1e-3, "the three steps did not move the weights");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void ExpertParallelSiblingsTrainAtOnceAsTheyWouldOneAfterTheOther(int worldSize)
    {
        // A base and its two children: one process trains them in turn; ranks with --expert-parallel train the base
        // data-parallel, then split into two groups (one rank each of 2, two ranks each of 4: a split communicator) that
        // train one child each, at the same time.
        var schedule = new EDiffI.Experts.BranchingSchedule
        {
            Nodes =
            [
                new() { Name = "base", Iterations = 2 },
                new() { Name = "low", Level = 1, Index = 0, Parent = "base", Iterations = 2 },
                new() { Name = "high", Level = 1, Index = 1, Parent = "base", Iterations = 2 },
            ],
        };
        using var data = new FixedImages();
        var NodeTrainer = TreeNodeTrainer(schedule, data);
        TrainerState Final(string run, string node) =>
            TrainerState.FromCheckpoint(Checkpoint.FindLatest(Path.Combine(run, "nodes", node, "checkpoints"))!);

        using var alone = new TinyModel.TempFolder();
        new TreeTrainer(schedule, alone.Path, NodeTrainer).Run((_, t) => t.Run());
        using var shared = new TinyModel.TempFolder();
        using var siblings = new Barrier(worldSize);
        var trained = OnRanks(worldSize, c =>
        {
            var mine = new List<string>();
            new TreeTrainer(schedule, shared.Path, NodeTrainer, c, expertParallel: true).Run((node, t) =>
            {
                mine.Add(node.Name);
                // Each child's trainer waits here for the other's: they run at once, or this times out.
                if (node.Level == 1) Assert.True(siblings.SignalAndWait(TimeSpan.FromMinutes(2)), "the siblings did not train at the same time");
                t.Run();
            });
            return mine;
        });
        for (int r = 0; r < worldSize; r++) Assert.Equal(["base", r < worldSize / 2 ? "low" : "high"], trained[r]);
        foreach (var node in schedule.Nodes)
        {
            Assert.True(File.Exists(Path.Combine(shared.Path, "nodes", node.Name, "done.json")), $"{node.Name} is not marked done");
            using var one = Final(alone.Path, node.Name);
            using var two = Final(shared.Path, node.Name);
            var w1 = one.Weights.ToDictionary(kv => kv.Key, kv => kv.Value);
            var e1 = one.Ema.ToDictionary(kv => kv.Key, kv => kv.Value);
            double weights = MaxDifference(w1, two.Weights.ToDictionary(kv => kv.Key, kv => kv.Value));
            double ema = MaxDifference(e1, two.Ema.ToDictionary(kv => kv.Key, kv => kv.Value));
            Assert.True(weights < 1e-4 && ema < 1e-4, $"{node.Name}: weights differ by {weights}, EMA by {ema}");
        }
        // The siblings learnt different things (else the comparison above could not tell them apart).
        using (var low = Final(alone.Path, "low"))
        using (var high = Final(alone.Path, "high"))
            Assert.True(MaxDifference(low.Weights.ToDictionary(kv => kv.Key, kv => kv.Value), high.Weights.ToDictionary(kv => kv.Key, kv => kv.Value)) > 1e-4);
    }

    [Fact]
    public async Task ProcessesThatFinishTogetherExportWholeEnsemblesWithoutColliding()
    {
        // `train --nodes low` and `train --nodes high` side by side finish at once, and each exports every ensemble whose
        // nodes are done: the exports must not trip over each other's temporary folders, and what stands is one whole export.
        var schedule = new EDiffI.Experts.BranchingSchedule
        {
            Nodes =
            [
                new() { Name = "base", Iterations = 1 },
                new() { Name = "low", Level = 1, Index = 0, Parent = "base", Iterations = 1 },
                new() { Name = "high", Level = 1, Index = 1, Parent = "base", Iterations = 1 },
            ],
            Ensembles = new() { ["one"] = ["base"], ["two"] = ["low", "high"] },
        };
        using var data = new FixedImages();
        using var run = new TinyModel.TempFolder();
        var tree = new TreeTrainer(schedule, run.Path, TreeNodeTrainer(schedule, data));
        tree.Run((_, t) => t.Run());
        var family = new EDiffI.Plugins.UNet.UNetFamily();
        for (int round = 0; round < 20; round++)
        {
            var exports = Enumerable.Range(0, 6).Select(_ => Task.Run(() => tree.ExportEnsembles(family, ScalarType.Float16))).ToArray();
            var written = await Task.WhenAll(exports);
            Assert.All(written, w => Assert.Equal(2, w.Count));
        }
        string ensembles = Path.Combine(run.Path, "ensembles");
        Assert.Equal(["one", "two"], Directory.GetDirectories(ensembles).Select(Path.GetFileName).Order());
        var two = EDiffI.Host.Pipeline.ModelManifest.Load(Path.Combine(ensembles, "two"));
        Assert.Equal(["low", "high"], two.Ensemble!.Experts.Select(e => e.Name));
        foreach (var expert in two.Ensemble.Experts)
            using (family.Load(Path.Combine(ensembles, "two", expert.Folder))) { }
    }

    // A tree node's trainer as `train --schedule` makes one: the node's iterations, its own seed and σ quantiles, the
    // schedule's p(σ), data-parallel over the ranks it is given.
    private static Func<EDiffI.Experts.TreeNode, string, TrainerState?, string?, ICommunicator?, Trainer> TreeNodeTrainer(
        EDiffI.Experts.BranchingSchedule schedule, FixedImages data)
    {
        var network = Network(Options(1).Seed);
        return (node, folder, parent, resume, ranks) =>
            new(Options(node.Iterations) with
                {
                    Seed = 11 + schedule.Nodes.IndexOf(node), SigmaQuantiles = node.Level == 0 ? null : node.Quantiles().ToList(),
                    PMean = schedule.PMean, PStd = schedule.PStd,
                },
                new EDiffI.Plugins.UNet.UNetFamily(), network, TinyModel.Manifest, TinyModel.T5(), TinyModel.Clip(), data, CPU,
                ScalarType.Float32, folder, resume, initial: parent, parallel: ranks is null ? null : new DataParallel(ranks));
    }

    [Fact]
    public void RanksStartFromRankZerosWeights()
    {
        // Rank 1's network starts elsewhere (another seed); the broadcast makes it rank 0's before the first step.
        using var data = new FixedImages();
        using var shared = new TinyModel.TempFolder();
        var networks = new[] { Network(11), Network(12) };
        var weights = OnRanks(2, c =>
        {
            using var t = Create(Options(1) with { Seed = 11 + c.Rank }, data, shared.Path, communicator: c, network: networks[c.Rank]);
            return Weights(t);
        });
        Assert.Equal(0, MaxDifference(weights[0], weights[1]));
    }

    [Fact]
    public void ResumingWithAnotherWorldSizeContinuesTheSameGlobalBatches()
    {
        // Documented order: step s trains on the global batch one process would draw at step s, whatever the world size;
        // rank r takes items [r·B/W, (r+1)·B/W). So 2 ranks for 2 steps, then 1 rank from their checkpoint, sees exactly
        // the batches of one uninterrupted rank.
        var alone = new RecordingImages(new FixedImages());
        using (var folder = new TinyModel.TempFolder())
        using (var t = Create(Options(4), alone, folder.Path))
            t.Run();
        using var run = new TinyModel.TempFolder();
        var parts = new RecordingImages(new FixedImages());
        var network = Network(Options(2).Seed);
        OnRanks(2, c =>
        {
            using var t = Create(Options(2), parts, run.Path, communicator: c, network: network);
            t.Run();
            return 0;
        });
        var resumed = new RecordingImages(new FixedImages());
        string checkpoint = Checkpoint.FindLatest(Path.Combine(run.Path, "checkpoints"))!;
        Assert.EndsWith("ckpt-00000002", checkpoint);
        using (var t = Create(Options(4), resumed, run.Path, checkpoint))
        {
            Assert.Equal(2, t.Step);
            t.Run();
        }
        var steps = parts.Drawn.GroupBy(d => d.Share.Offset).ToDictionary(g => g.Key, g => g.Select(d => d.Captions).ToList());
        Assert.All(parts.Drawn, d => Assert.Equal((4, 2), (d.Batch, d.Share.Count)));
        var joined = Enumerable.Range(0, 2).Select(s => steps[0][s].Concat(steps[2][s]).ToArray())
            .Concat(resumed.Drawn.Select(d => d.Captions)).ToList();
        Assert.Equal(alone.Drawn.Select(d => d.Captions), joined);
    }

    [Fact]
    public void WorldSharesAreTheWholeBatchsScenes()
    {
        var world = new EDiffI.Plugins.World.ProceduralWorld(16, EDiffI.Plugins.World.WorldSplit.Train);
        using var g1 = new Generator(5);
        using var g2 = new Generator(5);
        using var whole = world.NextBatch(4, g1);
        using var share = ((IDatasetSource)world).NextBatch(4, g2, BatchShare.Of(4, 1, 2));
        Assert.True(whole.Images.narrow(0, 2, 2).allclose(share.Images, rtol: 0, atol: 0));
        Assert.Equal(whole.Captions.Skip(2), share.Captions);
        Assert.Equal(g1.get_state().data<byte>().ToArray(), g2.get_state().data<byte>().ToArray()); // the share draws what the whole batch draws
    }

    [Fact]
    public void ABatchThatDoesNotSplitIsRefused()
    {
        using var data = new FixedImages();
        using var shared = new TinyModel.TempFolder();
        var network = Network(Options(1).Seed);
        var e = Assert.Throws<AggregateException>(() => OnRanks(3, c => Create(Options(1), data, shared.Path, communicator: c, network: network)));
        Assert.Contains("does not split evenly over 3 ranks", e.InnerException!.Message);
    }

    // Each rank of a rendezvous blocks in its sockets (sync over async) on a thread of its own: on thread-pool threads, a
    // machine of few cores starves the pool, and the socket completions that would wake them come after a short timeout.
    private static Task<T> OnOwnThread<T>(Func<T> body) => Task.Factory.StartNew(body, TaskCreationOptions.LongRunning);
    private static Task OnOwnThread(Action body) => Task.Factory.StartNew(body, TaskCreationOptions.LongRunning);

    [Fact]
    public async Task RendezvousHandsEveryRankTheIdAndWatchesForDeaths()
    {
        var listener = Rendezvous.Listen(0, IPAddress.Loopback);
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var id = Enumerable.Range(0, 128).Select(i => (byte)i).ToArray();
        var timeout = TimeSpan.FromSeconds(30);
        var root = OnOwnThread(() => Rendezvous.Root(listener, 3, id, timeout));
        var peers = new[] { 1, 2 }.Select(r => OnOwnThread(() => Rendezvous.Peer("127.0.0.1", port, r, 3, timeout))).ToArray();
        using var zero = await root;
        using var one = await peers[0];
        var two = await peers[1];
        Assert.Equal(id, one.Payload);
        Assert.Equal(id, two.Payload);
        Assert.Equal(2, two.Rank);
        // Rank 2 vanishes without a goodbye: rank 0 notices, and passes the news to rank 1.
        var zeroHeard = new TaskCompletionSource<string>();
        var oneHeard = new TaskCompletionSource<string>();
        zero.Watch(m => zeroHeard.TrySetResult(m));
        one.Watch(m => oneHeard.TrySetResult(m));
        two.Dispose();
        Assert.Contains("rank 2 stopped without a goodbye", await zeroHeard.Task.WaitAsync(timeout));
        Assert.Contains("rank 2 stopped without a goodbye", await oneHeard.Task.WaitAsync(timeout));
    }

    [Fact]
    public async Task RendezvousEndsCleanlyWithGoodbyes()
    {
        var listener = Rendezvous.Listen(0, IPAddress.Loopback);
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var timeout = TimeSpan.FromSeconds(30);
        var root = OnOwnThread(() => Rendezvous.Root(listener, 2, [7], timeout));
        using var one = Rendezvous.Peer("127.0.0.1", port, 1, 2, timeout);
        using var zero = await root;
        var failures = new List<string>();
        zero.Watch(failures.Add);
        one.Watch(failures.Add);
        var left = OnOwnThread(() => one.Leave(timeout));
        zero.Leave(timeout);
        await left;
        Assert.Empty(failures);
    }

    [Fact]
    public async Task ARankThatNeverComesIsAClearTimeout()
    {
        var listener = Rendezvous.Listen(0, IPAddress.Loopback);
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var root = OnOwnThread(() => Rendezvous.Root(listener, 3, new byte[128], TimeSpan.FromSeconds(1)));
        var peer = OnOwnThread(() => Rendezvous.Peer("127.0.0.1", port, 1, 3, TimeSpan.FromSeconds(30)));
        var e = await Assert.ThrowsAsync<UserException>(() => root);
        Assert.Contains("rank(s) 2 never came", e.Message);
        Assert.Contains("MASTER_ADDR", e.Message);
        // The peer that did come learns that the rendezvous is off instead of waiting on.
        await Assert.ThrowsAnyAsync<UserException>(() => peer);
    }

    [Fact]
    public void APeerWithNoRankZeroTimesOutNamingTheAddress()
    {
        var listener = Rendezvous.Listen(0, IPAddress.Loopback);
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nobody listens there
        var e = Assert.Throws<UserException>(() => Rendezvous.Peer("127.0.0.1", port, 1, 2, TimeSpan.FromSeconds(1)));
        Assert.Contains($"could not reach rank 0 at 127.0.0.1:{port}", e.Message);
    }

    [Fact]
    public void TheEnvironmentOfTorchrunAndSlurmIsRead()
    {
        var torchrun = DistributedEnvironment.FromVariables(new Dictionary<string, string?>
            { ["RANK"] = "3", ["WORLD_SIZE"] = "8", ["LOCAL_RANK"] = "1", ["MASTER_ADDR"] = "node0", ["MASTER_PORT"] = "1234" }.GetValueOrDefault);
        Assert.Equal(new DistributedEnvironment(3, 8, 1, "node0", 1234), torchrun);
        var slurm = DistributedEnvironment.FromVariables(new Dictionary<string, string?>
            { ["SLURM_PROCID"] = "5", ["SLURM_NTASKS"] = "6", ["SLURM_LOCALID"] = "2", ["MASTER_ADDR"] = "n1" }.GetValueOrDefault);
        Assert.Equal(new DistributedEnvironment(5, 6, 2, "n1", DistributedEnvironment.DefaultPort), slurm);
        Assert.Contains("RANK", Assert.Throws<UserException>(() => DistributedEnvironment.FromVariables(_ => null)).Message);
        Assert.Contains("MASTER_ADDR", Assert.Throws<UserException>(() => DistributedEnvironment.FromVariables(
            new Dictionary<string, string?> { ["RANK"] = "0", ["WORLD_SIZE"] = "2" }.GetValueOrDefault)).Message);
        Assert.Contains("WORLD_SIZE 2", Assert.Throws<UserException>(() => DistributedEnvironment.FromVariables(
            new Dictionary<string, string?> { ["RANK"] = "2", ["WORLD_SIZE"] = "2", ["MASTER_ADDR"] = "x" }.GetValueOrDefault)).Message);
    }

    [Fact]
    public void TheLauncherPassesTheSameArgumentsWithDistributed()
    {
        Assert.Equal(["train", "--data", "world:train", "--batch", "8", "--distributed"],
            LocalLauncher.RankArguments(["train", "--gpus", "2", "--data", "world:train", "--gpus=4", "--batch", "8"]));
    }

    [Fact]
    public void AMissingOrWrongNcclLibraryIsAClearError()
    {
        var missing = Assert.Throws<UserException>(() => NcclLibrary.Load("/nonexistent/libnccl.so.2"));
        Assert.Contains("/nonexistent/libnccl.so.2", missing.Message);
        Assert.Contains(NcclLibrary.PathVariable, missing.Message);
        using var folder = new TinyModel.TempFolder();
        string fake = Path.Combine(folder.Path, "libnccl.so.2");
        File.WriteAllText(fake, "not a library");
        Assert.Contains("cannot be loaded", Assert.Throws<UserException>(() => NcclLibrary.Load(fake)).Message);
        Assert.Contains("cannot be loaded", Assert.Throws<UserException>(() => NcclLibrary.Load(folder.Path)).Message);
        // Beside a pip install's torch/lib sits nvidia/nccl/lib.
        var candidates = NcclLibrary.Candidates(["/py/site-packages/torch/lib"]);
        Assert.Equal(["/py/site-packages/torch/lib/libnccl.so.2", "/py/site-packages/nvidia/nccl/lib/libnccl.so.2", "libnccl.so.2"], candidates);
    }
}
