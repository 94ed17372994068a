using System.Diagnostics;
using EDiffI.Conditioning;
using EDiffI.Data;
using EDiffI.Diffusion;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>What an adapter run does.</summary>
/// <param name="BatchSize">Images per step.</param>
/// <param name="Steps">Total optimisation steps (a resumed run counts those already done).</param>
/// <param name="LearningRate">AdamW learning rate of the slot's parameters.</param>
/// <param name="Drop">Per-sample dropout of the adapter's stream and of each text stream (classifier-free guidance).</param>
/// <param name="CheckpointEvery">Steps between writes of the adapter folder.</param>
/// <param name="Seed">Seed of batches, σ, noise and dropout.</param>
/// <param name="Seconds">Stop after this many seconds of training (0: no limit), writing the folder.</param>
public sealed record AdapterTrainingOptions(int BatchSize = 64, long Steps = 2000, double LearningRate = 1e-3, double Drop = 0.1,
    long CheckpointEvery = 200, long Seed = 1, double Seconds = 0);

/// <summary>
/// Trains a conditioner's adapter on a frozen base (the ControlNet / T2I-Adapter recipe): only the generic
/// slot's parameters of every network learn, from each training image's own input
/// (<see cref="ITrainableConditioner.InputFor"/>), under the EDM loss through the base's denoiser (the
/// expert router sends each sample to its expert). The output is a small model folder naming the base.
/// </summary>
public static class AdapterTrainer
{
    /// <summary>
    /// Trains <paramref name="conditioner"/>'s slot of the model in <paramref name="baseFolder"/> into
    /// <paramref name="outFolder"/>, resuming from the folder when it holds an earlier run of this adapter;
    /// <paramref name="openData"/> opens the training data at the network's resolution.
    /// </summary>
    public static void Run(string baseFolder, string outFolder, ITrainableConditioner conditioner, Func<int, IDatasetSource> openData, ModelCatalog catalog,
        Device device, ScalarType computeType, AdapterTrainingOptions o, Action<string> log, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(baseFolder, ModelManifest.FileName)))
            throw new UserException($"--base '{baseFolder}' is not a model folder (no {ModelManifest.FileName}).");
        if (conditioner.Slot.IsNone) throw new UserException($"The conditioner '{conditioner.Name}' fills no generic slot, so it has no adapter to train.");
        Directory.CreateDirectory(outFolder);
        string weightsFile = $"{conditioner.Name}.safetensors";
        var existing = File.Exists(Path.Combine(outFolder, ModelManifest.FileName)) ? ModelManifest.Load(outFolder) : null;
        if (existing is not null && existing.Adapters.All(a => a.Name != conditioner.Name))
            throw new UserException($"'{outFolder}' holds another model; pick an empty --out for the '{conditioner.Name}' adapter.");
        var baseManifest = ModelManifest.Load(baseFolder);
        var manifest = existing ?? new ModelManifest
        {
            Base = Path.GetRelativePath(Path.GetFullPath(outFolder), Path.GetFullPath(baseFolder)),
            Adapters = [new AdapterSpec { Name = conditioner.Name, Tokens = conditioner.Slot.TokenWidth, Pooled = conditioner.Slot.PooledWidth, Channels = conditioner.Slot.SpatialChannels }],
            DefaultSteps = baseManifest.DefaultSteps, DefaultGuidance = baseManifest.DefaultGuidance,
        };
        if (existing is null) manifest.Save(outFolder);
        else log($"resuming the '{conditioner.Name}' adapter in '{outFolder}' at step {existing.TrainedSteps}");

        // Float32 master weights; the networks compute in computeType (bf16 on a GPU).
        using var pipeline = new ModelLoader(catalog).Load(outFolder, device, ScalarType.Float32);
        foreach (var n in pipeline.Networks)
        {
            n.ComputeType = computeType;
            foreach (var p in n.Module.parameters()) p.requires_grad = false;
        }
        var trained = pipeline.Networks.SelectMany(n => n.StreamParameters(conditioner.Name).Values).ToList();
        foreach (var p in trained) p.requires_grad = true;
        foreach (var n in pipeline.Networks) n.Module.train();
        var experts = pipeline.Manifest.Ensemble?.Experts.Select(e => e.Name).ToList();
        var data = openData(pipeline.Network.Resolution);
        using var disposeData = data as IDisposable;
        using var optimizer = optim.AdamW(trained, o.LearningRate);
        long step = existing?.TrainedSteps ?? 0;
        using var generator = new Generator((ulong)(o.Seed + step * 7919)); // a resumed run continues with fresh draws
        var clock = Stopwatch.StartNew();
        var model = new ConditionerModel(pipeline.Network.Resolution, pipeline.TextEncoders(), pipeline.ImageEncoder, true,
            pipeline.Network.Conditioning.Streams ?? new Dictionary<string, ConditionerSlot>());
        double lossSum = 0;
        int lossCount = 0;
        void Save()
        {
            AdapterWeights.Save(Path.Combine(outFolder, weightsFile), conditioner.Name, pipeline.Networks, experts);
            manifest = manifest with
            {
                TrainedSteps = step,
                Adapters = manifest.Adapters.Select(a => a.Name == conditioner.Name ? a with { Weights = weightsFile } : a).ToList(),
            };
            manifest.Save(outFolder);
        }
        while (step < o.Steps && !cancellationToken.IsCancellationRequested && (o.Seconds <= 0 || clock.Elapsed.TotalSeconds < o.Seconds))
        {
            using var scope = NewDisposeScope();
            using var batch = data.NextBatch(o.BatchSize, generator);
            int b = (int)batch.Images.shape[0];
            var images = batch.Images.to(device);
            ConditioningInputs conditioning;
            using (no_grad())
                conditioning = pipeline.Encode(batch.Captions).WithStream(conditioner.Name, Streams(conditioner, batch, model, device));
            var keep = rand(3, b, generator: generator) >= o.Drop;
            conditioning = conditioning.KeepWhere(keep[0], keep[1], keep[1]).KeepStreamsWhere(_ => keep[2]);
            var sigma = Edm.SampleTrainingSigma(b, -1.2, 1.2, generator, device);
            var noise = randn(images.shape, generator: generator).to(device);
            var loss = Edm.TrainingLoss(pipeline.Denoiser, images, sigma, noise, conditioning).mean();
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            step++;
            lossSum += loss.item<float>();
            lossCount++;
            if (step % 50 == 0)
            {
                log($"step {step}: loss {lossSum / lossCount:0.0000}, {step * (double)o.BatchSize / Math.Max(1e-9, clock.Elapsed.TotalSeconds):0} images/s this run");
                lossSum = 0;
                lossCount = 0;
            }
            if (step % o.CheckpointEvery == 0) Save();
        }
        Save();
        log($"wrote the '{conditioner.Name}' adapter at step {step} to '{outFolder}'");
    }

    // Each image's own input, conditioned one by one and padded to a common token count.
    private static ConditioningStream Streams(ITrainableConditioner conditioner, TrainingBatch batch, ConditionerModel model, Device device)
    {
        var parts = new List<ConditioningStream>();
        for (int i = 0; i < batch.Captions.Count; i++)
        {
            using var image = batch.Images[i];
            var input = conditioner.InputFor(image, batch.Captions[i]);
            var output = conditioner.Condition(input, new ConditionerContext(batch.Captions[i], 1, CPU, model, _ => { }));
            parts.Add(output.Stream ?? throw new InvalidOperationException($"the conditioner '{conditioner.Name}' produced no stream"));
        }
        long length = parts.Max(p => p.Tokens?.shape[1] ?? 0);
        Tensor? Stack(Func<ConditioningStream, Tensor?> pick) => parts[0] is var first && pick(first) is null ? null : cat(parts.Select(pick).Select(t => t!).ToList(), 0).to(device);
        var tokens = length == 0 ? null : cat(parts.Select(p => nn.functional.pad(p.Tokens!, [0, 0, 0, length - p.Tokens!.shape[1]])).ToList(), 0).to(device);
        var mask = length == 0 ? null : cat(parts.Select(p => nn.functional.pad(p.Mask!.to(ScalarType.Int32), [0, length - p.Mask!.shape[1]]).to(ScalarType.Bool)).ToList(), 0).to(device);
        return new ConditioningStream(tokens, mask, Stack(p => p.Pooled), Stack(p => p.Spatial));
    }
}
