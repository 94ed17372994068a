using System.Diagnostics;
using System.Text.Json;
using EDiffI.IO;
using EDiffI.Plugins.T5;
using EDiffI.Plugins.World;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Tools.T5Training;

/// <summary>Pre-trains a small T5 encoder-decoder with span corruption on the procedural world's captions; ships the encoder.</summary>
internal static class SpanCorruptionTrainer
{
    private const long HeldOutSeed = 9_000_000_000L;
    private const int HeldOutCount = 256;

    /// <summary>The small architecture: d_model 128, 6 encoder and 4 decoder layers, gated-GELU (about 1.3M encoder parameters).</summary>
    public static T5Config SmallConfig(int vocab) => new()
    {
        DModel = 128, DKv = 32, NumHeads = 4, DFf = 384, NumLayers = 6, NumDecoderLayers = 4, VocabSize = vocab,
        RelativeAttentionNumBuckets = 32, RelativeAttentionMaxDistance = 128, FeedForwardProj = "gated-gelu",
        TieWordEmbeddings = true, ScaleDecoderOutputs = true,
    };

    private sealed record State(long Step, long Examples, double Seconds);

    public static void Run(Options o)
    {
        var device = o.Device;
        if (o.Get("--threads") is not null) set_num_threads(o.Int("--threads", 1));
        double seconds = o.Double("--seconds", 60);
        string output = o.Get("--out") ?? throw new ArgumentException("train needs --out DIR");
        int batch = o.Int("--batch", 64);
        double lr = o.Double("--lr", 2e-3);
        int checkpointEvery = o.Int("--checkpoint-every", 500);
        int evalEvery = o.Int("--eval-every", 200);
        int logEvery = o.Int("--log-every", 25);
        string spiece = o.Get("--spiece", Path.Combine(AppContext.BaseDirectory, "spiece.model"));
        var tokenizer = T5Tokenizer.Load(spiece);
        var config = SmallConfig(tokenizer.VocabularySize);
        string checkpoint = Path.Combine(output, "checkpoint");

        manual_seed(1);
        using var model = new T5ForConditionalGeneration(config);
        model.InitializeWeights(new Generator(1));
        var state = new State(0, 0, 0);
        bool resumed = o.Flag("--resume") && File.Exists(Path.Combine(checkpoint, "state.json"));
        if (resumed)
        {
            SafeTensorsWeights.Load(model, Path.Combine(checkpoint, "model.safetensors"));
            state = JsonSerializer.Deserialize<State>(File.ReadAllText(Path.Combine(checkpoint, "state.json")))!;
        }
        model.to(device);
        model.train();
        var optimizer = optim.AdamW(model.parameters(), lr, beta1: 0.9, beta2: 0.99, weight_decay: 0.01);
        if (resumed) optimizer.load_state_dict(Path.Combine(checkpoint, "optimizer.bin"));
        long encoderParameters = model.EncoderState().Sum(t => t.Value.numel());
        Console.WriteLine($"T5 span corruption: encoder {encoderParameters:N0} parameters, whole model {model.ParameterCount:N0}; vocab {config.VocabSize}; " +
                          $"batch {batch}; device {device}; {(resumed ? $"resumed at step {state.Step}" : "from scratch")}");
        var heldOut = HeldOut(tokenizer);
        var (loss0, acc0) = Evaluate(model, heldOut);
        Console.WriteLine($"held-out at step {state.Step}: loss {loss0:0.000}, span-token accuracy {100 * acc0:0.0}%");

        var clock = Stopwatch.StartNew();
        long step = state.Step, examples = state.Examples;
        double lastLoss = double.NaN;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            using var scope = NewDisposeScope();
            // Examples are numbered (captions and noise drawn from the number), so a resumed run continues
            // with the examples that come next; they are made in parallel while deterministic.
            var pairs = new (int[] Input, int[] Target)[batch];
            long first = examples;
            Parallel.For(0, batch, i => pairs[i] = Example(tokenizer, first + i, WorldSplit.Train));
            examples += batch;
            var (ids, mask, labels) = Collate(pairs);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr * Math.Min(1.0, (step + 1) / 200.0);
            var (_, loss) = model.Forward(ids, mask, labels);
            optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            optimizer.step();
            step++;
            if (step % logEvery == 0 || step == 1)
            {
                lastLoss = loss.item<float>();
                Console.WriteLine($"step {step} loss {lastLoss:0.000} ({examples / Math.Max(1e-9, state.Seconds + clock.Elapsed.TotalSeconds):0} captions/s)");
            }
            if (step % evalEvery == 0)
            {
                var (l, a) = Evaluate(model, heldOut);
                Console.WriteLine($"held-out at step {step}: loss {l:0.000}, span-token accuracy {100 * a:0.0}%");
            }
            if (step % checkpointEvery == 0) SaveCheckpoint(model, optimizer, checkpoint, new State(step, examples, state.Seconds + clock.Elapsed.TotalSeconds));
        }
        var final = new State(step, examples, state.Seconds + clock.Elapsed.TotalSeconds);
        SaveCheckpoint(model, optimizer, checkpoint, final);
        var (loss1, acc1) = Evaluate(model, heldOut);
        Console.WriteLine($"held-out at step {step}: loss {loss1:0.000} (was {loss0:0.000}), span-token accuracy {100 * acc1:0.0}% (was {100 * acc0:0.0}%)");
        string shipped = Path.Combine(output, "t5");
        ExportEncoder(model, spiece, shipped);
        using var check = new T5TextEncoder(shipped, 64);
        var e = check.Encode(["red bricks with white mortar"], CPU);
        Console.WriteLine($"trained {step} steps ({final.Seconds:0} s in all); wrote {shipped} (encoder only, fp16); it loads as kind \"t5\": {e.Tokens.shape[1]} tokens × {e.Tokens.shape[2]}");
    }

    /// <summary>A caption of the world (short or long, alternating by number) as a span-corruption pair.</summary>
    private static (int[] Input, int[] Target) Example(T5Tokenizer tokenizer, long number, WorldSplit split)
    {
        var rng = new Random(unchecked((int)(number * 7919 + 17)));
        var scene = SceneSampler.Sample(number, split);
        var caption = number % 2 == 0 ? Captions.Short(scene, number) : Captions.Long(scene, number);
        var ids = tokenizer.Encode(caption.Text, 128);
        return SpanCorruption.Corrupt(ids.Take(ids.Count - 1).ToList(), tokenizer, rng);
    }

    private static List<(int[] Input, int[] Target)> HeldOut(T5Tokenizer tokenizer)
    {
        return Enumerable.Range(0, HeldOutCount).Select(i => Example(tokenizer, HeldOutSeed + i, WorldSplit.HeldOut)).ToList();
    }

    private static (Tensor Ids, Tensor Mask, Tensor Labels) Collate(IReadOnlyList<(int[] Input, int[] Target)> pairs)
    {
        int li = pairs.Max(p => p.Input.Length), lt = pairs.Max(p => p.Target.Length);
        var ids = new long[pairs.Count * li];
        var mask = new bool[pairs.Count * li];
        var labels = Enumerable.Repeat(-100L, pairs.Count * lt).ToArray();
        for (int b = 0; b < pairs.Count; b++)
        {
            for (int j = 0; j < pairs[b].Input.Length; j++) { ids[b * li + j] = pairs[b].Input[j]; mask[b * li + j] = true; }
            for (int j = 0; j < pairs[b].Target.Length; j++) labels[b * lt + j] = pairs[b].Target[j];
        }
        return (tensor(ids, [pairs.Count, li]), tensor(mask, [pairs.Count, li]), tensor(labels, [pairs.Count, lt]));
    }

    /// <summary>Token-weighted loss on held-out captions and accuracy on the span tokens (targets other than sentinels and &lt;/s&gt;).</summary>
    private static (double Loss, double Accuracy) Evaluate(T5ForConditionalGeneration model, List<(int[] Input, int[] Target)> heldOut)
    {
        model.eval();
        using var noGrad = no_grad();
        double lossSum = 0, tokens = 0, correct = 0, spanTokens = 0;
        for (int start = 0; start < heldOut.Count; start += 64)
        {
            using var scope = NewDisposeScope();
            var (ids, mask, labels) = Collate(heldOut.Skip(start).Take(64).ToList());
            var (logits, loss) = model.Forward(ids, mask, labels);
            long n = labels.ne(-100).sum().item<long>();
            lossSum += loss.item<float>() * n;
            tokens += n;
            var labelsOnDevice = labels.to(logits.device);
            // Span tokens: real pieces, not sentinels (the last 100 ids), not </s> or padding.
            var span = labelsOnDevice.ge(2).logical_and(labelsOnDevice.lt(model.Config.VocabSize - T5Tokenizer.SentinelCount));
            correct += logits.argmax(-1).eq(labelsOnDevice).logical_and(span).sum().item<long>();
            spanTokens += span.sum().item<long>();
        }
        model.train();
        return (lossSum / tokens, correct / Math.Max(1, spanTokens));
    }

    // Written to a fresh folder, then swapped in, so a run killed mid-save keeps the previous checkpoint.
    private static void SaveCheckpoint(T5ForConditionalGeneration model, TorchSharp.Modules.AdamW optimizer, string folder, State state)
    {
        string temp = folder + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        SafeTensorsWeights.Save(model, Path.Combine(temp, "model.safetensors"));
        optimizer.save_state_dict(Path.Combine(temp, "optimizer.bin"));
        File.WriteAllText(Path.Combine(temp, "state.json"), JsonSerializer.Serialize(state));
        string old = folder + ".old";
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(folder)) Directory.Move(folder, old);
        Directory.Move(temp, folder);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    /// <summary>The encoder as a Hugging Face T5EncoderModel folder: config.json, model.safetensors (fp16), spiece.model.</summary>
    private static void ExportEncoder(T5ForConditionalGeneration model, string spiece, string folder)
    {
        Directory.CreateDirectory(folder);
        model.Config.Write(folder, "T5EncoderModel");
        var tensors = model.EncoderState().ToDictionary(t => t.Name, t => t.Value.detach().to(ScalarType.Float16).cpu());
        SafeTensorsWeights.Save(tensors, Path.Combine(folder, "model.safetensors"));
        foreach (var t in tensors.Values) t.Dispose();
        File.Copy(spiece, Path.Combine(folder, "spiece.model"), overwrite: true);
    }
}
