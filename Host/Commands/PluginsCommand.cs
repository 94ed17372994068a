using EDiffI.Extensibility;
using EDiffI.Host.Composition;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EDiffI.Host.Commands;

/// <summary><c>plugins</c>: every plugin found, its version, contract, what it provides and its status.</summary>
public sealed class PluginsCommand(PluginCatalog catalog) : Command<PluginsCommand.Settings>
{
    /// <summary>No options.</summary>
    public sealed class Settings : CommandSettings;

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var table = new Table().AddColumns("plugin", "version", "contract", "status", "provides / reason");
        foreach (var p in catalog.Plugins)
        {
            string status = p.Status switch
            {
                PluginStatus.Loaded => "[green]loaded[/]",
                PluginStatus.Disabled => "[grey]disabled[/]",
                PluginStatus.Refused => "[yellow]refused[/]",
                _ => "[red]faulted[/]",
            };
            string detail = p.Status == PluginStatus.Loaded ? string.Join("\n", p.Provides) : p.Reason ?? "";
            table.AddRow(Markup.Escape(p.Name), Markup.Escape(p.Version ?? "?"), Markup.Escape(p.ContractVersion ?? "?"), status, Markup.Escape(detail));
        }
        AnsiConsole.MarkupLineInterpolated($"host contract {PluginContract.Version}; plugin folders: {string.Join(", ", catalog.Folders)}");
        AnsiConsole.Write(table);
        return 0;
    }
}
