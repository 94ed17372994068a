using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using EDiffI.IO;
using EDiffI.Networks;
using EDiffI.Plugins.Height;
using EDiffI.Plugins.World;
using EDiffI.Textures;
using EDiffI.Tools.HeightTraining;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

// HeightTraining --out runs/height --seconds 1200 [--resume] [--batch 12] [--lr 2e-3] [--channels 12,24,48,48]
// Trains the height-from-albedo U-Net on world textures (albedo and ground-truth height drawn from the same parameters)
// and writes OUT/height (height.json + height.safetensors in fp16), the folder the Height plugin loads.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("usage: HeightTraining [--out DIR] [--seconds N] [--resume] [--batch N] [--lr X] [--channels C0,C1,...] [--checkpoint-every SECONDS] [--seed N]");
    return 0;
}
string Arg(string name, string fallback) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
double Number(string name, double fallback)
{
    string text = Arg(name, fallback.ToString(CultureInfo.InvariantCulture));
    return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0
        ? v : throw new ArgumentException($"{name} needs a positive number, got '{text}'");
}
try
{
    var known = new HashSet<string> { "--out", "--seconds", "--resume", "--batch", "--lr", "--channels", "--checkpoint-every", "--seed" };
    for (int i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal)) continue;
        if (!known.Contains(args[i])) throw new ArgumentException($"unknown option '{args[i]}' (options: {string.Join(", ", known)})");
    }
    int[] channels = Arg("--channels", "12,24,48,48").Split(',').Select(c => int.TryParse(c, out int n) && n > 0
        ? n : throw new ArgumentException($"--channels takes positive integers separated by commas, got '{Arg("--channels", "")}'")).ToArray();
    var options = new RunOptions(Arg("--out", "runs/height"), Number("--seconds", 1200), args.Contains("--resume"), (int)Number("--batch", 12),
        Number("--lr", 2e-3), channels, Number("--checkpoint-every", 120), (long)Number("--seed", 1));
    new HeightTrainer(options).Run();
    return 0;
}
catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

namespace EDiffI.Tools.HeightTraining
{
    /// <summary>The command line.</summary>
    internal sealed record RunOptions(string Output, double Seconds, bool Resume, int Batch, double LearningRate, int[] Channels,
                                      double CheckpointSeconds, long Seed);

    /// <summary>
    /// Trains <see cref="HeightUNet"/> on world albedo → height pairs. The loss is the mean squared difference of the
    /// per-image standardised heights (<see cref="HeightMaps.Standardise"/>): height is relative, so the network is asked
    /// for the shape of the relief, not its offset or scale; its square root is the height RMSE that Evaluate reports.
    /// </summary>
    internal sealed class HeightTrainer(RunOptions options)
    {
        /// <summary>The side most batches are drawn at (the network's working size); a quarter are drawn at half of it.</summary>
        private const int Size = 128;
        private const int ValidationCount = 32;

        private string CheckpointFolder => Path.Combine(options.Output, "checkpoint");
        private string ExportFolder => Path.Combine(options.Output, "height");

        public void Run()
        {
            var config = new HeightUNetConfig { Channels = options.Channels, WorkingSize = Size };
            using var model = new HeightUNet(config);
            using var optimizer = optim.AdamW(model.parameters(), options.LearningRate, weight_decay: 1e-4);
            long step = 0;
            if (options.Resume && File.Exists(Path.Combine(CheckpointFolder, "state.json"))) step = Restore(model, optimizer);
            else if (options.Resume) Console.WriteLine($"no checkpoint in {CheckpointFolder}; starting fresh");
            Console.WriteLine($"height U-Net {model.ParameterCount / 1e3:0.0} K parameters, channels [{string.Join(", ", config.Channels)}], batch {options.Batch}, " +
                              $"{options.Seconds:0} s{(step > 0 ? $", resumed at step {step}" : "")}");
            var validation = ValidationSet();
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
            var clock = Stopwatch.StartNew();
            double lastCheckpoint = 0, lastReport = 0, recent = 0;
            int recentCount = 0;
            long firstStep = step;
            while (clock.Elapsed.TotalSeconds < options.Seconds && !stop.IsCancellationRequested)
            {
                // The learning rate decays on a cosine from its start to a tenth over the run's time.
                double progress = Math.Min(1, clock.Elapsed.TotalSeconds / options.Seconds);
                double lr = options.LearningRate * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                using (var scope = NewDisposeScope())
                {
                    var random = new Random(unchecked((int)(options.Seed * 1_000_003 + step)));
                    bool wrap = random.NextDouble() < 0.5;
                    int size = random.NextDouble() < 0.25 ? Size / 2 : Size;
                    var (albedo, height) = Batch(random, options.Batch, size, WorldSplit.Train, tileableOnly: wrap, augment: true);
                    model.train();
                    var estimate = model.Heights(albedo, wrap ? TileAxes.Both : TileAxes.None);
                    var loss = F.mse_loss(HeightMaps.Standardise(estimate), HeightMaps.Standardise(height));
                    optimizer.zero_grad();
                    loss.backward();
                    nn.utils.clip_grad_norm_(model.parameters(), 1.0);
                    optimizer.step();
                    recent += loss.item<float>();
                    recentCount++;
                }
                step++;
                double now = clock.Elapsed.TotalSeconds;
                if (now - lastReport >= 60)
                {
                    Console.WriteLine($"step {step} ({now:0} s): training RMSE {Math.Sqrt(recent / recentCount):0.000}, held-out RMSE {Validate(model, validation):0.000}, lr {lr:0.00e0}");
                    recent = 0;
                    recentCount = 0;
                    lastReport = now;
                }
                if (now - lastCheckpoint >= options.CheckpointSeconds)
                {
                    Save(model, optimizer, step);
                    lastCheckpoint = now;
                }
            }
            Save(model, optimizer, step);
            Console.WriteLine($"trained {step - firstStep} steps ({(step - firstStep) * options.Batch} textures) in {clock.Elapsed.TotalSeconds:0} s; " +
                              $"held-out RMSE {Validate(model, validation):0.000}; checkpoint in {CheckpointFolder}");
            Directory.CreateDirectory(ExportFolder);
            (config with { TrainedSteps = step }).Save(ExportFolder);
            SafeTensorsWeights.Save(model, Path.Combine(ExportFolder, HeightUNetConfig.WeightsFileName), ScalarType.Float16);
            Console.WriteLine($"exported {ExportFolder} ({new FileInfo(Path.Combine(ExportFolder, HeightUNetConfig.WeightsFileName)).Length / 1024.0:0} KiB of weights)");
            foreach (var t in validation) t.Dispose();
        }

        /// <summary>
        /// A batch of world textures' albedos [B, 3, S, S] in [−1, 1] and ground-truth heights [B, 1, S, S], the backgrounds of
        /// scenes of <paramref name="split"/>. Augmentation permutes the colour channels and adds a little pixel noise, so the
        /// network leans on the pattern rather than on the palette and tolerates a generated albedo's grain.
        /// </summary>
        internal static (Tensor Albedo, Tensor Height) Batch(Random random, int count, int size, WorldSplit split, bool tileableOnly, bool augment)
        {
            var specs = new TextureSpec[count];
            for (int i = 0; i < count; i++)
            {
                do specs[i] = SceneSampler.Sample(random.NextInt64(), split).Background;
                while (tileableOnly && !specs[i].Tileable);
            }
            int plane = size * size;
            var rgb = new float[count * 3 * plane];
            var heights = new float[count * plane];
            var permutations = Enumerable.Range(0, count).Select(_ => augment ? random.Next(6) : 0).ToArray();
            Parallel.For(0, count, i =>
            {
                var bytes = new byte[plane * 3];
                TextureRenderer.Render(specs[i], size, new PixelWindow(0, 0, size, size), bytes, heights.AsSpan(i * plane, plane));
                int[] order = Permutations[permutations[i]];
                for (int p = 0; p < plane; p++)
                    for (int c = 0; c < 3; c++) rgb[(i * 3 + c) * plane + p] = bytes[p * 3 + order[c]] / 127.5f - 1;
            });
            var albedo = tensor(rgb, [count, 3, size, size]);
            if (augment) albedo = albedo + randn_like(albedo) * (0.04 * random.NextDouble());
            return (albedo, tensor(heights, [count, 1, size, size]));
        }

        private static readonly int[][] Permutations = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];

        // Held-out textures (held-out family/colour pairs), drawn once, in fixed batches of 8 at the working size.
        private static List<Tensor> ValidationSet()
        {
            var random = new Random(20251202);
            var set = new List<Tensor>();
            for (int i = 0; i < ValidationCount / 8; i++)
            {
                var (albedo, height) = Batch(random, 8, Size, WorldSplit.HeldOut, tileableOnly: true, augment: false);
                set.Add(albedo);
                set.Add(height);
            }
            return set;
        }

        private static double Validate(HeightUNet model, List<Tensor> set)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            model.eval();
            double sum = 0;
            for (int i = 0; i < set.Count; i += 2)
                sum += F.mse_loss(HeightMaps.Standardise(model.Heights(set[i], TileAxes.Both)), HeightMaps.Standardise(set[i + 1])).item<float>();
            return Math.Sqrt(sum / (set.Count / 2));
        }

        private void Save(HeightUNet model, AdamW optimizer, long step)
        {
            using var scope = NewDisposeScope();
            var tensors = model.state_dict().ToDictionary(kv => "model/" + kv.Key, kv => kv.Value);
            var adamSteps = AdamWCheckpoint.Collect(optimizer, tensors);
            Directory.CreateDirectory(CheckpointFolder);
            SafeTensorsWeights.Save(tensors, Path.Combine(CheckpointFolder, "state.safetensors"));
            var meta = new JsonObject { ["step"] = step, ["adamSteps"] = adamSteps, ["channels"] = new JsonArray([.. model.Config.Channels.Select(c => (JsonNode)c)]) };
            SafeTensorsWeights.WriteAtomically(Path.Combine(CheckpointFolder, "state.json"), s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(meta.ToJsonString()); });
        }

        private long Restore(HeightUNet model, AdamW optimizer)
        {
            var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(CheckpointFolder, "state.json")))!;
            var saved = meta["channels"]!.AsArray().Select(c => c!.GetValue<int>()).ToArray();
            if (!saved.SequenceEqual(model.Config.Channels))
                throw new ArgumentException($"the checkpoint in '{CheckpointFolder}' has channels [{string.Join(", ", saved)}], not [{string.Join(", ", model.Config.Channels)}]; pass --channels {string.Join(",", saved)}");
            var tensors = SafeTensorsWeights.Read(Path.Combine(CheckpointFolder, "state.safetensors"));
            try
            {
                var weights = tensors.Where(kv => kv.Key.StartsWith("model/", StringComparison.Ordinal))
                    .ToDictionary(kv => kv.Key["model/".Length..], kv => kv.Value);
                SafeTensorsWeights.LoadInto(model, weights, CheckpointFolder);
                AdamWCheckpoint.Restore(optimizer, tensors, meta["adamSteps"]!.AsArray(), CheckpointFolder);
                return meta["step"]!.GetValue<long>();
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }
    }
}
