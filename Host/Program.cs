using EDiffI.Host.Commands;
using EDiffI.Host.Composition;
using EDiffI.Host.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

// Composition root: configuration, then services (every plugin registers its own), then the CLI
// that resolves its commands from those services.
var configuration = HostComposition.BuildConfiguration(ref args);
var services = HostComposition.Services(configuration);

var app = new CommandApp(new TypeRegistrar(services));
app.Configure(config =>
{
    config.SetApplicationName("EDiffI.Host");
    config.AddCommand<GenerateCommand>("generate").WithDescription("Draw images from a text prompt.")
        .WithExample("generate", "--prompt", "red bricks with white mortar", "--out", "bricks.png");
    config.AddCommand<TrainCommand>("train").WithDescription("Train the U-Net with the EDM loss on a folder of captioned images.");
    config.AddCommand<EncodeCommand>("encode").WithDescription("Precompute the T5 and CLIP embeddings of a data set into sharded files (train reads cache:<folder>).");
    config.AddCommand<BenchCommand>("bench").WithDescription("Time the denoiser, the sampler, and the FLOP rate.");
    config.AddCommand<DatasetCommand>("dataset").WithDescription("Write samples of a training source, or measure its throughput.");
    config.AddCommand<ServeCommand>("serve").WithDescription("Serve images to game engines over the MessagePack bridge (Unix socket, optional TCP).");
    config.AddCommand<PluginsCommand>("plugins").WithDescription("List the plugins found, what they provide and their status.");
    config.SetExceptionHandler((exception, _) =>
    {
        var user = exception as UserException ?? exception.InnerException as UserException;
        if (user is not null) AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {user.Message}");
        else if (exception is OperationCanceledException) AnsiConsole.MarkupLine("[yellow]cancelled[/]");
        else if (exception is CommandAppException) AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {exception.Message}");
        else AnsiConsole.WriteException(exception);
        return exception is OperationCanceledException ? 130 : 1;
    });
});
return app.Run(args);
