using EDiffI.Host.Commands;
using EDiffI.Host.Composition;
using EDiffI.Host.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

// Composition root: configuration, then services (every plugin registers its own), then the CLI
// that resolves its commands from those services.
Microsoft.Extensions.Configuration.IConfiguration configuration;
try
{
    configuration = HostComposition.BuildConfiguration(ref args);
}
catch (UserException e)
{
    AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
    return 1;
}
var services = HostComposition.Services(configuration);

var app = new CommandApp(new TypeRegistrar(services));
var verbs = new VerbOptions();
app.Configure(config =>
{
    config.SetApplicationName("EDiffI.Host");
    // An unknown or misspelt option is an error that names the verb's options, never silently ignored.
    config.UseStrictParsing();
    verbs.Add<GenerateCommand>(config, "generate").WithDescription("Draw images from a text prompt.")
        .WithExample("generate", "--prompt", "red bricks with white mortar", "--out", "bricks.png");
    verbs.Add<TrainCommand>(config, "train").WithDescription("Train the U-Net with the EDM loss on a folder of captioned images.");
    verbs.Add<EncodeCommand>(config, "encode").WithDescription("Precompute the T5 and CLIP embeddings of a data set into sharded files (train reads cache:<folder>).");
    verbs.Add<EvalCommand>(config, "eval").WithDescription("Score a model on fresh scenes with the judge: attribute accuracy and FD-judge, as a table, a plot and JSON.")
        .WithExample("eval", "--model", "models/default", "--count", "64", "--report", "eval.md");
    verbs.Add<BenchCommand>(config, "bench").WithDescription("Time the denoiser, the sampler, and the FLOP rate.");
    verbs.Add<DatasetCommand>(config, "dataset").WithDescription("Write samples of a training source, or measure its throughput.");
    verbs.Add<ServeCommand>(config, "serve").WithDescription("Serve images to game engines over the MessagePack bridge (Unix socket, optional TCP).");
    verbs.Add<FarmCommand>(config, "farm").WithDescription("Submit jobs to a texture farm (NATS JetStream), follow, fetch and cancel them: farm submit|status|get|cancel|bench.")
        .WithExample("farm", "submit", "--farm", "nats://127.0.0.1:4222", "--prompt", "mossy cobblestones", "--wait", "--out", "stones.png");
    verbs.Add<TextureCommand>(config, "texture").WithDescription("Mip chains, normal maps, BC1/BC5/BC7 in KTX2 or DDS, and a preview render, on the GPU through Vulkan.")
        .WithExample("texture", "--in", "albedo.png", "--mips", "--format", "bc7", "--out", "albedo.ktx2", "--preview", "preview.png");
    verbs.Add<QuantizeCommand>(config, "quantize").WithDescription("Copy a model folder with its weights stored in 8 bits (per-channel int8, about half the size; read back as floats).")
        .WithExample("quantize", "--model", "models/default", "--out", "models/default-int8");
    verbs.Add<PluginsCommand>(config, "plugins").WithDescription("List the plugins found, what they provide and their status.");
    config.SetExceptionHandler((exception, _) =>
    {
        var user = exception as UserException ?? exception.InnerException as UserException;
        if (user is not null) AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {user.Message}");
        else if (exception is CommandParseException parse && verbs.UnknownOptionMessage(parse, args) is { } unknown)
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {unknown}");
        else if (exception is OperationCanceledException) AnsiConsole.MarkupLine("[yellow]cancelled[/]");
        else if (exception is CommandAppException) AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {exception.Message}");
        else AnsiConsole.WriteException(exception);
        return exception is OperationCanceledException ? 130 : 1;
    });
});
// The parser fills an option given without its value with a placeholder; refuse that first.
if (verbs.MissingValueMessage(args) is { } missing)
{
    AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {missing}");
    return 1;
}
return app.Run(args);
