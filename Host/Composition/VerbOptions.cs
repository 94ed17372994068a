using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Spectre.Console.Cli;

namespace EDiffI.Host.Composition;

/// <summary>
/// The options each verb takes, read from its settings type, so that an unknown or misspelt option
/// (refused by strict parsing) is answered with the options that verb does take.
/// </summary>
internal sealed partial class VerbOptions
{
    private readonly Dictionary<string, Type> _commands = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Records that <paramref name="verb"/> runs <typeparamref name="TCommand"/>, and adds it to the CLI.</summary>
    public ICommandConfigurator Add<TCommand>(IConfigurator config, string verb) where TCommand : class, ICommand
    {
        _commands[verb] = typeof(TCommand);
        return config.AddCommand<TCommand>(verb);
    }

    /// <summary>The option templates of <paramref name="verb"/> (<c>--steps &lt;N&gt;</c>), or null for an unknown verb.</summary>
    public IReadOnlyList<string>? Of(string verb)
    {
        if (!_commands.TryGetValue(verb, out var command)) return null;
        var settings = SettingsType(command);
        if (settings is null) return [];
        return [.. Attributes(settings).Where(o => !o.IsHidden).Select(Template)];
    }

    /// <summary>
    /// The message for a parse error that names an unknown option, listing the verb's options and the
    /// closest one; null when <paramref name="exception"/> is about something else.
    /// </summary>
    /// <param name="exception">What strict parsing threw.</param>
    /// <param name="args">The command line, without the <c>--set</c> pairs.</param>
    public string? UnknownOptionMessage(CommandParseException exception, IReadOnlyList<string> args)
    {
        var match = UnknownOption().Match(exception.Message);
        if (!match.Success) return null;
        string given = match.Groups[1].Value;
        given = given.StartsWith('-') ? given : (given.Length == 1 ? "-" : "--") + given;
        string? verb = args.FirstOrDefault(a => !a.StartsWith('-'));
        var options = verb is null ? null : Of(verb);
        if (verb is null || options is null)
            return $"Unknown option '{given}': options follow a verb ({string.Join(", ", _commands.Keys)}); `--help` lists the verbs.";
        var text = new StringBuilder($"Unknown option '{given}' for `{verb}`.");
        var closest = Closest(given, options);
        if (closest is not null) text.Append($" Did you mean '{closest}'?");
        text.Append($" The options of `{verb}` are:");
        foreach (string option in options) text.Append(Environment.NewLine).Append("  ").Append(option);
        text.Append(Environment.NewLine).Append("  -h, --help");
        text.Append(Environment.NewLine).Append("and, for every verb, --set Key=Value (a configuration override such as --set Sampling:Sampler=euler).");
        return text.ToString();
    }

    /// <summary>
    /// The message for an option given without its value (last on the line, or followed by another of
    /// the verb's options), which the parser would otherwise fill with a placeholder; null when there is none.
    /// </summary>
    /// <param name="args">The command line, without the <c>--set</c> pairs.</param>
    public string? MissingValueMessage(IReadOnlyList<string> args)
    {
        string? verb = args.FirstOrDefault(a => !a.StartsWith('-'));
        if (verb is null || !_commands.TryGetValue(verb, out var command) || SettingsType(command) is not { } settings) return null;
        var options = Attributes(settings).ToList();
        var names = options.SelectMany(Names).Append("-h").Append("--help").ToHashSet(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            var option = options.FirstOrDefault(o => o.ValueName is not null && !o.ValueIsOptional && Names(o).Contains(args[i]));
            if (option is not null && (i + 1 == args.Count || names.Contains(args[i + 1])))
                return $"{args[i]} needs a value: {Template(option)}.";
        }
        return null;
    }

    // Spectre's words for it: "Unknown option 'tile'."
    [GeneratedRegex("^Unknown option '([^']+)'")]
    private static partial Regex UnknownOption();

    // The T of Command<T> or AsyncCommand<T>: the first generic argument down the base types that is a CommandSettings.
    private static Type? SettingsType(Type command)
    {
        for (var type = command; type is not null; type = type.BaseType)
        {
            if (!type.IsGenericType) continue;
            var settings = type.GetGenericArguments().FirstOrDefault(t => typeof(CommandSettings).IsAssignableFrom(t));
            if (settings is not null) return settings;
        }
        return null;
    }

    private static IEnumerable<CommandOptionAttribute> Attributes(Type settings) =>
        settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
            .OfType<CommandOptionAttribute>();

    private static IEnumerable<string> Names(CommandOptionAttribute option) =>
        option.LongNames.Select(n => "--" + n).Concat(option.ShortNames.Select(n => "-" + n));

    private static string Template(CommandOptionAttribute option)
    {
        var names = Names(option);
        string value = option.ValueName is null ? "" : option.ValueIsOptional ? $" [{option.ValueName}]" : $" <{option.ValueName}>";
        return string.Join(", ", names) + value;
    }

    // The option whose long name is nearest to what was typed, when it is near enough to be a typo.
    private static string? Closest(string given, IReadOnlyList<string> templates)
    {
        string typed = given.TrimStart('-');
        var names = templates.Select(t => t.Split(' ', ',')[0]).Where(n => n.StartsWith("--", StringComparison.Ordinal));
        var best = names.Select(n => (Name: n, Distance: EditDistance(typed, n[2..]))).OrderBy(x => x.Distance).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(1, typed.Length / 3) ? best.Name : null;
    }

    // Levenshtein distance, one row at a time.
    private static int EditDistance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
