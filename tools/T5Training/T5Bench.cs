using System.Diagnostics;
using EDiffI.Plugins.T5;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Tools.T5Training;

/// <summary>Loading and throughput measurements of T5 encoders (docs/benchmarks.md, T5 section).</summary>
internal static class T5Bench
{
    /// <summary>Prompts per second of an encoder at batch × tokens (random ids, every token real).</summary>
    public static void Throughput(Options o)
    {
        var device = o.Device;
        if (o.Get("--threads") is not null) set_num_threads(o.Int("--threads", 1));
        var dtype = o.DType(device.type == DeviceType.CUDA ? "bf16" : "f32");
        int batch = o.Int("--batch", 32), tokens = o.Int("--tokens", 128);
        double seconds = o.Double("--seconds", 10);
        T5EncoderModel model;
        string what;
        var load = Stopwatch.StartNew();
        if (o.Flag("--xxl"))
        {
            var config = T5Config.Xxl with { NumLayers = o.Int("--layers", 24) };
            model = new T5EncoderModel(config, new T5Placement(dtype, device));
            using (no_grad())
                foreach (var p in model.parameters()) p.normal_(0, 0.02); // synthetic weights, filled in place
            what = $"T5-XXL-shaped encoder ({config.NumLayers} layers, synthetic weights)";
        }
        else
        {
            string folder = o.Get("--model") ?? throw new ArgumentException("bench-t5 needs --model DIR (a T5 checkpoint folder) or --xxl");
            model = T5Loader.LoadEncoder(folder, at: new T5Placement(dtype, device));
            what = $"encoder '{folder}'";
        }
        using var _ = model;
        model.eval();
        Sync(device);
        Console.WriteLine($"{what}: {model.ParameterCount:N0} parameters in {dtype} on {device}, ready in {load.Elapsed.TotalSeconds:0.0} s");
        using var noGrad = no_grad();
        var generator = new Generator(7);
        using var ids = randint(2, Math.Min(model.Config.VocabSize, 32000), [batch, tokens], generator: generator).to(device);
        using var mask = ones(batch, tokens, dtype: ScalarType.Bool, device: device);
        using (var warm = model.Encode(ids, mask)) Sync(device);
        var clock = Stopwatch.StartNew();
        int runs = 0;
        while (clock.Elapsed.TotalSeconds < seconds || runs < 2)
        {
            using var h = model.Encode(ids, mask);
            runs++;
            if (runs % 4 == 0) Sync(device);
        }
        Sync(device);
        double elapsed = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"{runs} batches of {batch} × {tokens} tokens in {elapsed:0.0} s: {runs * batch / elapsed:0.0} prompts/s, " +
                          $"{runs * batch * (double)tokens / elapsed:0} tokens/s, {1000 * elapsed / runs:0.0} ms per batch");
    }

    /// <summary>Writes a checkpoint folder with T5-XXL encoder shapes (config.json, model.safetensors), one tensor at a time.</summary>
    public static void Synthesize(Options o)
    {
        string folder = o.Get("--out") ?? throw new ArgumentException("synth-t5 needs --out DIR");
        var dtype = o.DType("bf16");
        var config = T5Config.Xxl with { NumLayers = o.Int("--layers", 24) };
        // The layout comes from a real module, so names and shapes are what the loader expects.
        var layout = new List<(string, ScalarType, long[])>();
        using (var meta = new T5EncoderModel(config, new T5Placement(dtype, new Device(DeviceType.META))))
            layout.AddRange(meta.state_dict().Select(kv => (kv.Key, dtype, kv.Value.shape)));
        long bytes = layout.Sum(l => l.Item3.Aggregate(1L, (a, b) => a * b)) * EDiffI.IO.SafeTensorsHeader.ElementSize(dtype);
        Console.WriteLine($"writing {layout.Count} tensors, {bytes / 1e9:0.00} GB of {dtype}, to {folder}");
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(folder);
        config.Write(folder, "T5EncoderModel");
        var generator = new Generator(3);
        using (var writer = new SafeTensorsStreamWriter(Path.Combine(folder, "model.safetensors"), layout))
        {
            foreach (var (name, _, shape) in layout)
            {
                using var scope = NewDisposeScope();
                var t = name.EndsWith("layer_norm.weight", StringComparison.Ordinal) ? ones(shape, dtype: dtype) : (randn(shape, generator: generator) * 0.02).to(dtype);
                writer.Write(t);
            }
            writer.Complete();
        }
        Console.WriteLine($"wrote {bytes / 1e9:0.00} GB in {clock.Elapsed.TotalSeconds:0} s; peak RSS of the writer {PeakRssGb():0.00} GB");
    }

    /// <summary>Loads a checkpoint into a module built without initialisation and reports the peak resident memory.</summary>
    public static void Load(Options o)
    {
        string folder = o.Get("--model") ?? throw new ArgumentException("load-t5 needs --model DIR");
        var dtype = o.DType("bf16");
        var device = o.Device;
        using (var warm = ones(1)) { } // libtorch loaded before the baseline
        double baseline = PeakRssGb();
        var clock = Stopwatch.StartNew();
        using var model = T5Loader.LoadEncoder(folder, at: new T5Placement(dtype, device));
        double seconds = clock.Elapsed.TotalSeconds;
        double weights = model.parameters().Sum(p => p.numel() * (double)EDiffI.IO.SafeTensorsHeader.ElementSize(p.dtype)) / 1e9;
        double peak = PeakRssGb();
        Console.WriteLine($"loaded {model.ParameterCount:N0} parameters ({weights:0.00} GB of {dtype}) on {device} in {seconds:0.0} s");
        Console.WriteLine($"peak RSS (VmHWM) {peak:0.00} GB, of which {baseline:0.00} GB before loading (runtime + libtorch): " +
                          $"peak / weights {peak / weights:0.000}, (peak − baseline) / weights {(peak - baseline) / weights:0.000}");
    }

    /// <summary>VmHWM of /proc/self/status in GB (0 where there is no /proc).</summary>
    public static double PeakRssGb()
    {
        const string file = "/proc/self/status";
        if (!File.Exists(file)) return 0;
        var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024 / 1e9;
    }

    private static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }
}
