using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using EDiffI.IO;
using EDiffI.Plugins.Clip;
using EDiffI.Plugins.World;
using EDiffI.Tools.ClipTraining;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

// clip-training --device cuda --seconds 240 --out runs/clip-small [--resume] [--batch 256] [--lr 1e-3] [--eval-every 60]
// Trains a small CLIP on the procedural world with the symmetric InfoNCE loss and writes OUT/clip
// (a Hugging Face CLIPModel folder the CLIP plugin loads as "clip" and "clip-vision").
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("usage: ClipTraining [--device cpu|cuda] [--seconds N] [--out DIR] [--resume] [--batch N] [--lr X] [--eval-every SECONDS] [--eval-count N] [--final-count N]\n       ClipTraining --bench --out DIR [--device cpu|cuda] [--batch N]   (encoder throughput of DIR/clip)");
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
    var device = new Device(Arg("--device", "cpu"));
    if (device.type == DeviceType.CUDA && !cuda.is_available())
        throw new ArgumentException("--device cuda but no CUDA libtorch was found (see README.md, GPU)");
    var options = new RunOptions(device, Number("--seconds", 240), Arg("--out", "runs/clip-small"), args.Contains("--resume"),
        (int)Number("--batch", device.type == DeviceType.CUDA ? 512 : 64), Number("--lr", 1e-3),
        Number("--eval-every", 60), (int)Number("--eval-count", 2000), (int)Number("--final-count", 5000));
    if (args.Contains("--bench")) ClipTrainer.Bench(Path.Combine(options.Output, "clip"), options.Device, options.Batch);
    else new ClipTrainer(options).Run();
    return 0;
}
catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

namespace EDiffI.Tools.ClipTraining
{
    /// <summary>The command line.</summary>
    internal sealed record RunOptions(Device Device, double Seconds, string Output, bool Resume, int Batch, double LearningRate,
                                      double EvalEverySeconds, int EvalCount, int FinalCount);

    /// <summary>Contrastive pre-training (Radford et al. 2021, Fig. 3) of a small CLIP on world image-caption pairs.</summary>
    internal sealed class ClipTrainer(RunOptions options)
    {
        private const int ImageSize = 64;
        private const int MaxTokens = 77;
        private const double MaxLogitScale = 4.6052; // ln 100, CLIP's clamp

        private readonly string _tokenizerFolder = Path.Combine(AppContext.BaseDirectory, "tokenizer");
        private string CheckpointFolder => Path.Combine(options.Output, "checkpoint");
        private string ExportFolder => Path.Combine(options.Output, "clip");

        /// <summary>A CLIP of about 1.8 M parameters: 4 layers of width 128 in each tower, ViT with 8×8 patches at 64×64.</summary>
        public static ClipConfig SmallConfig(int vocabSize) => new()
        {
            Text = new ClipTextConfig
            {
                VocabSize = vocabSize, HiddenSize = 128, IntermediateSize = 512, Layers = 4, Heads = 4, MaxPositions = MaxTokens,
                BosTokenId = 0, EosTokenId = 1,
            },
            Vision = new ClipVisionConfig { HiddenSize = 128, IntermediateSize = 512, Layers = 4, Heads = 4, ImageSize = ImageSize, PatchSize = 8 },
            ProjectionDim = 128,
        };

        public void Run()
        {
            var tokenizer = ClipTokenizer.FromFolder(_tokenizerFolder);
            if (tokenizer.BosId != 0 || tokenizer.EosId != 1)
                throw new InvalidDataException($"the tokenizer in '{_tokenizerFolder}' has start/end ids {tokenizer.BosId}/{tokenizer.EosId}, expected 0/1");
            var config = SmallConfig(tokenizer.VocabularySize);
            manual_seed(1);
            using var model = new ClipModel(config, ClipTowers.Both);
            model.to(options.Device);
            var optimizer = optim.AdamW(model.parameters(), options.LearningRate, weight_decay: 0.05);
            long step = 0, seen = 0;
            if (options.Resume && File.Exists(Path.Combine(CheckpointFolder, "state.json")))
                (step, seen) = Restore(model, optimizer);
            else if (options.Resume) Console.WriteLine($"no checkpoint in {CheckpointFolder}; starting fresh");
            Console.WriteLine($"CLIP {model.ParameterCount / 1e6:0.00} M parameters on {options.Device}, batch {options.Batch}, {options.Seconds:0} s{(step > 0 ? $", resumed at step {step}" : "")}");

            var pairs = new WorldPairs(tokenizer, ImageSize, MaxTokens);
            var processor = ClipImageProcessor.ForImageSize(ImageSize);
            var prompts = ZeroShot.Prompts();
            var (promptIds, promptMask) = tokenizer.EncodeBatch(prompts.Select(p => p.Prompt).ToList(), MaxTokens);
            using var evalBatch = pairs.Draw(5_000_000_000_000L, options.EvalCount, WorldSplit.Train);

            // Pairs are drawn on CPU threads while the device trains on earlier batches.
            using var queue = new BlockingCollection<PairBatch>(6);
            using var stop = new CancellationTokenSource();
            int workers = Math.Max(1, Math.Min(3, Environment.ProcessorCount / 4));
            var producers = Enumerable.Range(0, workers).Select(w => Task.Run(() =>
            {
                long seed = 1_000_000_000L * (w + 1) + seen;
                while (!stop.IsCancellationRequested)
                {
                    var b = pairs.Draw(seed, options.Batch, WorldSplit.Train);
                    seed += options.Batch;
                    try { queue.Add(b, stop.Token); } catch (OperationCanceledException) { b.Dispose(); break; }
                }
            })).ToList();

            var clock = Stopwatch.StartNew();
            double nextEval = options.EvalEverySeconds, lossSum = 0, lastPrint = 0;
            int lossCount = 0;
            long firstStep = step;
            while (clock.Elapsed.TotalSeconds < options.Seconds)
            {
                using var batch = queue.Take();
                using var scope = NewDisposeScope();
                // Linear warm-up over 100 steps, then cosine decay over the time budget.
                double progress = clock.Elapsed.TotalSeconds / options.Seconds;
                double lr = options.LearningRate * Math.Min(1, (step - firstStep + 1) / 100.0) * (0.05 + 0.95 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
                foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
                model.train();
                var loss = Loss(model, processor.Apply(batch.Images.to(options.Device)), batch.Ids.to(options.Device), batch.Mask.to(options.Device));
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                using (no_grad()) model.LogitScale.clamp_(0, MaxLogitScale);
                step++;
                seen += options.Batch;
                lossSum += loss.item<float>();
                lossCount++;
                if (step % 50 == 0 || clock.Elapsed.TotalSeconds - lastPrint >= 10)
                {
                    lastPrint = clock.Elapsed.TotalSeconds;
                    Console.WriteLine($"step {step} loss {lossSum / lossCount:0.0000} logit scale {Math.Exp(model.LogitScale.item<float>()):0.0} lr {lr:0.00e0} {(step - firstStep) * options.Batch / clock.Elapsed.TotalSeconds:0} pairs/s");
                    lossSum = 0;
                    lossCount = 0;
                }
                if (clock.Elapsed.TotalSeconds >= nextEval)
                {
                    var (family, color) = Evaluate(model, evalBatch, promptIds, promptMask, prompts, processor);
                    Console.WriteLine($"eval at step {step} ({clock.Elapsed.TotalSeconds:0} s): zero-shot family {100 * family:0.0}%, colour {100 * color:0.0}% on {options.EvalCount} fresh scenes");
                    nextEval += options.EvalEverySeconds;
                }
            }
            stop.Cancel();
            while (queue.TryTake(out var left)) left.Dispose();
            Task.WaitAll(producers.ToArray(), TimeSpan.FromSeconds(30));
            while (queue.TryTake(out var left)) left.Dispose();
            Save(model, optimizer, step, seen);
            Console.WriteLine($"trained {step - firstStep} steps ({(step - firstStep) * options.Batch} pairs) in {clock.Elapsed.TotalSeconds:0} s; checkpoint in {CheckpointFolder}");

            model.cpu();
            ClipCheckpoint.Save(model, ExportFolder, _tokenizerFolder, ScalarType.Float16);
            Console.WriteLine($"wrote {ExportFolder} (Hugging Face CLIPModel layout, float16)");
            FinalEvaluation(pairs, prompts);
        }

        /// <summary>Throughput of an exported folder's encoders through the plugin: prompts/s and images/s (world captions and 64×64 scenes).</summary>
        public static void Bench(string folder, Device device, int batch)
        {
            using var text = ClipTextEncoder.Load(folder);
            using var image = ClipImageEncoder.Load(folder);
            text.MoveTo(device);
            image.MoveTo(device);
            var pairs = new WorldPairs(text.Tokenizer, ImageSize, MaxTokens);
            using var data = pairs.Draw(9_000_000_000_000L, batch, WorldSplit.Train);
            var captions = Enumerable.Range(0, batch).Select(i => i % 2 == 0
                ? Captions.Short(SceneSampler.Sample(i, WorldSplit.Train), i).Text
                : Captions.Long(SceneSampler.Sample(i, WorldSplit.Train), i).Text).ToList();
            using var images = data.Images.to(device);
            double Rate(Action encode)
            {
                encode(); // warm-up
                var clock = Stopwatch.StartNew();
                int rounds = 0;
                while (clock.Elapsed.TotalSeconds < 5 || rounds < 3) { encode(); rounds++; }
                if (device.type == DeviceType.CUDA) cuda.synchronize();
                return rounds * batch / clock.Elapsed.TotalSeconds;
            }
            double prompts = Rate(() =>
            {
                var e = text.Encode(captions, device);
                e.Tokens.Dispose(); e.Mask.Dispose(); e.Pooled?.Dispose();
            });
            double imagesPerSecond = Rate(() => image.Encode(images).Dispose());
            Console.WriteLine($"{folder} on {device}, batch {batch}, float32: text {prompts:0} prompts/s (77 tokens each, half short and half long world captions), vision {imagesPerSecond:0} images/s (64×64 in [−1, 1], preprocessing included)");
        }

        /// <summary>Symmetric InfoNCE over the batch: image i and caption i are the positives, every other pair a negative.</summary>
        private static Tensor Loss(ClipModel model, Tensor pixels, Tensor ids, Tensor mask)
        {
            var (_, _, textEmbeds) = model.EncodeText(ids, mask);
            var (_, _, imageEmbeds) = model.EncodeImage(pixels);
            var logits = model.LogitScale.exp() * F.normalize(imageEmbeds, dim: 1).matmul(F.normalize(textEmbeds, dim: 1).t());
            var labels = arange(logits.shape[0], dtype: ScalarType.Int64, device: logits.device);
            return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2;
        }

        private (double Family, double Color) Evaluate(ClipModel model, PairBatch batch, long[] promptIds, bool[] promptMask,
            List<(string Prompt, int Family, int Color)> prompts, ClipImageProcessor processor)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            model.eval();
            var ids = tensor(promptIds, [prompts.Count, MaxTokens]).to(options.Device);
            var mask = tensor(promptMask, [prompts.Count, MaxTokens]).to(options.Device);
            var text = cat(Enumerable.Range(0, (prompts.Count + 511) / 512).Select(c =>
            {
                long start = c * 512L, n = Math.Min(512, prompts.Count - start);
                return model.EncodeText(ids.narrow(0, start, n), mask.narrow(0, start, n)).Embeds;
            }).ToArray(), 0);
            var (families, colors) = ZeroShot.Classes(text, prompts);
            var images = cat(Enumerable.Range(0, (int)((batch.Images.shape[0] + 511) / 512)).Select(c =>
            {
                long start = c * 512L, n = Math.Min(512, batch.Images.shape[0] - start);
                return model.EncodeImage(processor.Apply(batch.Images.narrow(0, start, n).to(options.Device))).Embeds;
            }).ToArray(), 0);
            return ZeroShot.Accuracy(images, families, colors, batch.Labels);
        }

        /// <summary>Zero-shot accuracy of the EXPORTED folder, loaded back through the plugin's encoders.</summary>
        private void FinalEvaluation(WorldPairs pairs, List<(string Prompt, int Family, int Color)> prompts)
        {
            using var text = ClipTextEncoder.Load(ExportFolder);
            using var image = ClipImageEncoder.Load(ExportFolder);
            text.MoveTo(options.Device);
            image.MoveTo(options.Device);
            var embeddings = new List<Tensor>();
            foreach (var chunk in prompts.Chunk(512))
            {
                var e = text.Encode(chunk.Select(p => p.Prompt).ToList(), options.Device);
                e.Tokens.Dispose();
                e.Mask.Dispose();
                embeddings.Add(e.Pooled!);
            }
            using var textEmbeds = cat(embeddings, 0);
            foreach (var t in embeddings) t.Dispose();
            var (families, colors) = ZeroShot.Classes(textEmbeds, prompts);
            Console.WriteLine($"exported model, loaded through the plugin, zero-shot on {options.FinalCount} fresh scenes:");
            Console.WriteLine("| split | background family | background colour |");
            Console.WriteLine("| --- | --- | --- |");
            foreach (var split in new[] { WorldSplit.Train, WorldSplit.HeldOut })
            {
                using var batch = pairs.Draw(6_000_000_000_000L, options.FinalCount, split);
                using var scope = NewDisposeScope();
                var imageEmbeds = cat(Enumerable.Range(0, (options.FinalCount + 499) / 500).Select(c =>
                {
                    long start = c * 500L, n = Math.Min(500, options.FinalCount - start);
                    return image.Encode(batch.Images.narrow(0, start, n).to(options.Device));
                }).ToArray(), 0);
                var (family, color) = ZeroShot.Accuracy(imageEmbeds, families, colors, batch.Labels);
                Console.WriteLine($"| {(split == WorldSplit.Train ? "train combinations" : "held-out combinations")} | {100 * family:0.0}% | {100 * color:0.0}% |");
            }
            families.Dispose();
            colors.Dispose();
        }

        private void Save(ClipModel model, AdamW optimizer, long step, long seen)
        {
            using var scope = NewDisposeScope();
            var tensors = model.state_dict().ToDictionary(kv => "model/" + kv.Key, kv => kv.Value);
            var adamSteps = AdamWCheckpoint.Collect(optimizer, tensors);
            Directory.CreateDirectory(CheckpointFolder);
            SafeTensorsWeights.Save(tensors, Path.Combine(CheckpointFolder, "state.safetensors"));
            var meta = new JsonObject { ["step"] = step, ["pairs"] = seen, ["adamSteps"] = adamSteps, ["config"] = JsonNode.Parse(model.Config.ToJson()) };
            File.WriteAllText(Path.Combine(CheckpointFolder, "state.json"), meta.ToJsonString());
        }

        private (long Step, long Seen) Restore(ClipModel model, AdamW optimizer)
        {
            var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(CheckpointFolder, "state.json")))!;
            var tensors = SafeTensorsWeights.Read(Path.Combine(CheckpointFolder, "state.safetensors"));
            try
            {
                var weights = tensors.Where(kv => kv.Key.StartsWith("model/", StringComparison.Ordinal))
                    .ToDictionary(kv => kv.Key["model/".Length..], kv => kv.Value);
                SafeTensorsWeights.LoadInto(model, weights, CheckpointFolder);
                AdamWCheckpoint.Restore(optimizer, tensors, meta["adamSteps"]!.AsArray(), CheckpointFolder);
                return (meta["step"]!.GetValue<long>(), meta["pairs"]!.GetValue<long>());
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }
    }
}
