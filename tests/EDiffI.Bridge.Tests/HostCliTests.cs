using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.RegularExpressions;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;

namespace EDiffI.Bridge.Tests;

/// <summary>
/// The host's command line as a user meets it, through the real process: unknown options are
/// errors that name the valid ones, <c>--set</c> still reaches the configuration, and the default
/// model is found from any working folder.
/// </summary>
public class HostCliTests
{
    [Theory]
    [InlineData("generate --tiles xy", "--tiles", "--tile")]
    [InlineData("generate --bogus-flag 3", "--bogus-flag", null)]
    [InlineData("generate --promt bricks", "--promt", "--prompt")]
    [InlineData("serve --sokcet b.sock", "--sokcet", "--socket")]
    public async Task AnUnknownOptionIsAnErrorNamingTheValidOnes(string line, string unknown, string? suggestion)
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-cli-").FullName;
        try
        {
            var (code, output) = await RunHostAsync(folder, null, [.. line.Split(' '), "--out", "x.png"]);
            Assert.Equal(1, code);
            string verb = line.Split(' ')[0];
            Assert.Contains(Squeeze($"Unknown option '{unknown}' for `{verb}`"), Squeeze(output));
            var valid = verb == "generate" ? new[] { "--prompt", "--seed", "--steps", "--out", "--model" } : ["--socket", "--tcp", "--model"];
            foreach (string option in valid) Assert.Contains(option, output);
            if (suggestion is not null) Assert.Contains(Squeeze($"Did you mean '{suggestion}'?"), Squeeze(output));
            Assert.Empty(Directory.GetFiles(folder)); // nothing was drawn
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task BenchReportsEveryRowInTheCudaComputeTypeOnTheCpuToo()
    {
        // bf16, as on a GPU: the rows that read values back (the zero-initialised-layer fill, the graph check) must cope
        // with it. On the CPU the graph rows say so instead of timing.
        var folder = Directory.CreateTempSubdirectory("ediffi-cli-").FullName;
        try
        {
            var (code, output) = await RunHostAsync(folder, null,
                ["bench", "--unet", "tiny", "--batch", "1", "--iters", "1", "--steps", "2", "--precision", "bf16", "--report", "bench.md"]);
            Assert.True(code == 0, output);
            string report = File.ReadAllText(Path.Combine(folder, "bench.md"));
            foreach (string row in new[] { "| network evaluation (F_θ) |", "| network evaluation replayed from a CUDA graph | not on CUDA |", "| heun, 2 steps (3 evaluations)" })
                Assert.Contains(row, report);
            Assert.Contains("BFloat16", report);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("generate --out x.png --prompt", "--prompt needs a value: --prompt, -p <TEXT>")]
    [InlineData("generate --steps --prompt bricks --out x.png", "--steps needs a value: --steps <N>")]
    public async Task AnOptionWithoutItsValueIsAnError(string line, string message)
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-cli-").FullName;
        try
        {
            var (code, output) = await RunHostAsync(folder, null, line.Split(' '));
            Assert.Equal(1, code);
            Assert.Contains(Squeeze(message), Squeeze(output));
            Assert.Empty(Directory.GetFiles(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("train --data world:train --grow compact32 --out runs/x")]
    [InlineData("train --data world:train --stage sr256 --finetune models/default --grow compact32 --out runs/x")]
    public async Task GrowWithoutAPlainFineTuneIsAnErrorThatSaysWhatItGoesWith(string line)
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-cli-").FullName;
        try
        {
            var (code, output) = await RunHostAsync(folder, null, line.Split(' '));
            Assert.Equal(1, code);
            Assert.Contains(Squeeze("--grow goes with --finetune MODEL alone (not with --stage or --adapter)"), Squeeze(output));
            Assert.False(Directory.Exists(Path.Combine(folder, "runs")), "nothing is written before the refusal");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task QuantizeCopiesAModelInEightBitsAndRefusesMistakesWithoutWriting()
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-cli-").FullName;
        try
        {
            // A small model: the shipped height network's folder (one weights file).
            string model = Path.Combine(folder, "model");
            Directory.CreateDirectory(model);
            string shipped = Path.Combine(EvalVerbTests.Repository, "models", "default", "height");
            foreach (string file in Directory.GetFiles(shipped)) File.Copy(file, Path.Combine(model, Path.GetFileName(file)));

            var (code, output) = await RunHostAsync(folder, null, ["quantize", "--model", "model"]);
            Assert.Equal(1, code);
            Assert.Contains(Squeeze("--out <folder> is required"), Squeeze(output));
            (code, output) = await RunHostAsync(folder, null, ["quantize", "--model", "model", "--out", "model/int8"]);
            Assert.Equal(1, code);
            Assert.Contains(Squeeze("lies inside"), Squeeze(output));
            (code, output) = await RunHostAsync(folder, null, ["quantize", "--model", "nowhere", "--out", "q"]);
            Assert.Equal(1, code);
            Assert.Contains(Squeeze("There is no model folder 'nowhere'"), Squeeze(output));
            Assert.Equal(["model"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));

            (code, output) = await RunHostAsync(folder, null, ["quantize", "--model", "model", "--out", "q"]);
            Assert.True(code == 0, output);
            Assert.Contains("wrote", output);
            Assert.Equal(Directory.GetFiles(model).Select(Path.GetFileName).Order(), Directory.GetFiles(Path.Combine(folder, "q")).Select(Path.GetFileName).Order());
            (code, output) = await RunHostAsync(folder, null, ["quantize", "--model", "model", "--out", "q"]);
            Assert.Equal(1, code);
            Assert.Contains(Squeeze("already holds files"), Squeeze(output));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("farm status job1 --farm nats://artist:pw-8f3k@127.0.0.1:4222", "The farm address carries credentials")]
    [InlineData("farm frobnicate", "Unknown farm action 'frobnicate'; use submit, status, get, cancel or bench.")]
    [InlineData("farm get job1", "farm get needs --out <FILE>.")]
    [InlineData("serve --farm-only", "--farm-only needs --farm nats://host:4222.")]
    public async Task FarmMistakesAreErrorsThatSayWhatToDo(string line, string message)
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-cli-").FullName;
        try
        {
            var (code, output) = await RunHostAsync(folder, null, line.Split(' '));
            Assert.Equal(1, code);
            Assert.Contains(Squeeze(message), Squeeze(output));
            Assert.DoesNotContain("pw-8f3k", output); // a credential given where none belongs is never echoed
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task SetStillReachesTheConfiguration()
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-cli-").FullName;
        try
        {
            // The sampler named through --set is looked up (and refused by name), so --set was parsed, not taken for an unknown option.
            foreach (string[] set in new[] { new[] { "--set", "Sampling:Sampler=nope" }, ["--set=Sampling:Sampler=nope"] })
            {
                var (code, output) = await RunHostAsync(folder, null, ["generate", .. set, "--prompt", "red bricks", "--out", "x.png"]);
                Assert.Equal(1, code);
                Assert.Contains("Unknown sampler 'nope'", output);
            }
            var (lastCode, lastOutput) = await RunHostAsync(folder, null, ["generate", "--prompt", "red bricks", "--set"]);
            Assert.Equal(1, lastCode);
            Assert.Contains("--set expects Key=Value", lastOutput);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task GenerateFromAnotherFolderFindsTheShippedModelAboveTheHost()
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-cli-").FullName;
        try
        {
            var (code, output) = await RunHostAsync(folder, null, ["generate", "--prompt", "red stripes", "--steps", "2", "--seed", "1", "--size", "64", "--out", "out.png"]);
            Assert.True(code == 0, output);
            Assert.Equal((64, 64), PngSize(Path.Combine(folder, "out.png")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task EdiffiModelsNamesTheFolderOfModels()
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-cli-").FullName;
        try
        {
            string models = Path.Combine(folder, "my-models");
            Directory.CreateDirectory(Path.Combine(models, ModelLocator.DefaultName));
            EndToEndTests.MakeTinyModel(Path.Combine(models, ModelLocator.DefaultName));
            string work = Path.Combine(folder, "work");
            Directory.CreateDirectory(work);
            var (code, output) = await RunHostAsync(work, models, ["generate", "--prompt", "red stripes", "--steps", "2", "--seed", "1", "--out", "out.png"]);
            Assert.True(code == 0, output);
            Assert.Equal((16, 16), PngSize(Path.Combine(work, "out.png"))); // the tiny model's side, not the shipped cascade's 1024

            string empty = Path.Combine(folder, "empty");
            Directory.CreateDirectory(empty);
            var (wrongCode, wrongOutput) = await RunHostAsync(work, empty, ["generate", "--prompt", "red stripes", "--out", "wrong.png"]);
            Assert.Equal(1, wrongCode);
            Assert.Contains(Squeeze($"{ModelLocator.ModelsVariable} is set to '{empty}'"), Squeeze(wrongOutput));
            Assert.False(File.Exists(Path.Combine(work, "wrong.png")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void TheLocatorLooksInTheWorkingFolderAndAboveTheHostAndListsWhereItLooked()
    {
        var folder = Directory.CreateTempSubdirectory("ediffi-locate-").FullName;
        try
        {
            string work = Path.Combine(folder, "work");
            string host = Path.Combine(folder, "install", "bin", "net10.0");
            Directory.CreateDirectory(work);
            Directory.CreateDirectory(host);
            var e = Assert.Throws<UserException>(() => ModelLocator.ResolveDefault(null, work, host));
            foreach (string place in new[] { work, host, Path.Combine(folder, "install"), folder })
                Assert.Contains(Path.Combine(place, ModelLocator.DefaultModel), e.Message);
            Assert.Contains("--model", e.Message);
            Assert.Contains(ModelLocator.ModelsVariable, e.Message);

            // A models/default two folders above the host is found.
            string shipped = Path.Combine(folder, "install", ModelLocator.DefaultModel);
            Directory.CreateDirectory(shipped);
            File.WriteAllText(Path.Combine(shipped, ModelManifest.FileName), "{}");
            Assert.Equal(shipped, ModelLocator.ResolveDefault(null, work, host));
            // The working folder's wins over the host's.
            string local = Path.Combine(work, ModelLocator.DefaultModel);
            Directory.CreateDirectory(local);
            File.WriteAllText(Path.Combine(local, ModelManifest.FileName), "{}");
            Assert.Equal(local, ModelLocator.ResolveDefault(null, work, host));
            // EDIFFI_MODELS wins over both.
            string named = Path.Combine(folder, "named");
            Directory.CreateDirectory(Path.Combine(named, ModelLocator.DefaultName));
            File.WriteAllText(Path.Combine(named, ModelLocator.DefaultName, ModelManifest.FileName), "{}");
            Assert.Equal(Path.Combine(named, ModelLocator.DefaultName), ModelLocator.ResolveDefault(named, work, host));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Spectre wraps its output at 80 columns when redirected, breaking lines (and long paths) anywhere: compare without white space.
    private static string Squeeze(string text) => Regex.Replace(text, @"\s+", "");

    private static (int Width, int Height) PngSize(string path)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        byte[] header = File.ReadAllBytes(path).AsSpan(0, 24).ToArray();
        return (BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(20)));
    }

    // `dotnet EDiffI.Host.dll args` in workingFolder, with EDIFFI_MODELS set to modelsFolder (or unset), its exit code and everything it printed.
    private static async Task<(int Code, string Output)> RunHostAsync(string workingFolder, string? modelsFolder, string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(EndToEndTests.HostDll());
        foreach (string arg in args) info.ArgumentList.Add(arg);
        info.Environment.Remove(ModelLocator.ModelsVariable);
        if (modelsFolder is not null) info.Environment[ModelLocator.ModelsVariable] = modelsFolder;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the host ran for more than 3 minutes: {string.Join(' ', args)}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
