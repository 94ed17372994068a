using EDiffI.Tools.T5Training;

// T5Training train    --device cpu|cuda --seconds N --out DIR [--resume] [--batch 64 --lr 2e-3 --checkpoint-every 500 --spiece FILE]
// T5Training bench-t5 --model DIR --device cpu|cuda [--dtype f32|bf16 --batch 32 --tokens 128 --seconds 10]
// T5Training bench-t5 --xxl [--layers 24] --device cuda --dtype bf16 [--batch 32 --tokens 128 --seconds 20]
// T5Training synth-t5 --out DIR [--layers 24 --dtype bf16]   (a T5-XXL-shaped encoder checkpoint, written streaming)
// T5Training load-t5  --model DIR [--dtype bf16 --device cpu] (loads it tensor by tensor and reports peak memory)
var options = new Options(args.Skip(1).ToArray());
try
{
    switch (args.Length > 0 ? args[0] : "help")
    {
        case "train": SpanCorruptionTrainer.Run(options); break;
        case "bench-t5": T5Bench.Throughput(options); break;
        case "synth-t5": T5Bench.Synthesize(options); break;
        case "load-t5": T5Bench.Load(options); break;
        default:
            Console.WriteLine("usage: T5Training train|bench-t5|synth-t5|load-t5 [options]; see tools/T5Training/Program.cs and docs/benchmarks.md");
            return args.Length > 0 && args[0] is not ("help" or "--help") ? 2 : 0;
    }
    return 0;
}
catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or FormatException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

/// <summary>--name value options.</summary>
internal sealed class Options(string[] args)
{
    public string? Get(string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public string Get(string name, string fallback) => Get(name) ?? fallback;

    public int Int(string name, int fallback) => Get(name) is string s
        ? int.TryParse(s, out int v) ? v : throw new ArgumentException($"{name} needs a whole number, not '{s}'")
        : fallback;

    public double Double(string name, double fallback) => Get(name) is string s
        ? double.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out double v) ? v : throw new ArgumentException($"{name} needs a number, not '{s}'")
        : fallback;

    public bool Flag(string name) => args.Contains(name);

    public TorchSharp.torch.Device Device
    {
        get
        {
            string d = Get("--device", "cpu");
            if (d != "cpu" && !d.StartsWith("cuda", StringComparison.Ordinal)) throw new ArgumentException($"--device is cpu or cuda, not '{d}'");
            var device = new TorchSharp.torch.Device(d);
            if (d == "cpu") return device;
            try
            {
                using var probe = TorchSharp.torch.zeros(1, device: device);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new ArgumentException($"--device {d}: CUDA is not usable here ({e.Message}); on the GPU machine start the tool through .gpu/run.sh, which loads PyTorch's CUDA libtorch", e);
            }
            return device;
        }
    }

    public TorchSharp.torch.ScalarType DType(string fallback) => Get("--dtype", fallback) switch
    {
        "f32" or "float32" => TorchSharp.torch.ScalarType.Float32,
        "bf16" or "bfloat16" => TorchSharp.torch.ScalarType.BFloat16,
        "f16" or "float16" => TorchSharp.torch.ScalarType.Float16,
        var other => throw new ArgumentException($"--dtype is f32, bf16 or f16, not '{other}'"),
    };
}
