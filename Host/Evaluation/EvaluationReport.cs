using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EDiffI.Host.Runtime;

namespace EDiffI.Host.Evaluation;

/// <summary>What an evaluation report describes beside its scores: the model, the prompt set and the device.</summary>
/// <param name="Model">The model folder as given.</param>
/// <param name="Source">The judged prompt set (<c>world:train,short</c>).</param>
/// <param name="Device">The device the images were drawn on.</param>
public sealed record EvaluationSubject(string Model, string Source, string Device);

/// <summary>
/// The files of an evaluation report: the Markdown table (<c>name.md</c>), the plot of per-attribute accuracy beside it
/// (<c>name.png</c>) and the figures as JSON (<c>name.json</c>: <c>attributeAccuracy</c>, <c>fdJudge</c> and one field per attribute).
/// </summary>
public sealed class EvaluationReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The report's files for the Markdown path <paramref name="markdown"/>.</summary>
    /// <exception cref="UserException">The path does not name a .md file.</exception>
    public EvaluationReport(string markdown)
    {
        if (string.IsNullOrWhiteSpace(markdown) || !markdown.EndsWith(".md", StringComparison.OrdinalIgnoreCase) || Path.GetFileNameWithoutExtension(markdown).Length == 0)
            throw new UserException($"--report must name a Markdown file, e.g. eval.md (got '{markdown}'); the plot (.png) and the figures (.json) are written beside it.");
        Markdown = Path.GetFullPath(markdown);
        Json = Path.ChangeExtension(Markdown, ".json");
        Plot = Path.ChangeExtension(Markdown, ".png");
    }

    /// <summary>The table.</summary>
    public string Markdown { get; }

    /// <summary>The figures.</summary>
    public string Json { get; }

    /// <summary>The plot.</summary>
    public string Plot { get; }

    /// <summary>All three files.</summary>
    public IReadOnlyList<string> Files => [Markdown, Plot, Json];

    /// <summary>
    /// Makes the report's folder and checks that each file can be written, before any slow work, so that a report that
    /// cannot be written is refused up front. Files already there are left as they are; files made for the check are removed.
    /// </summary>
    /// <exception cref="UserException">The folder cannot be made or a file cannot be written; the message says which and why.</exception>
    public void CheckWritable()
    {
        string folder = Path.GetDirectoryName(Markdown)!;
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserException($"The report's folder '{folder}' cannot be made: {e.Message}", e);
        }
        foreach (string file in Files)
        {
            if (Directory.Exists(file)) throw new UserException($"The report file '{file}' is a folder.");
            bool existed = File.Exists(file);
            try
            {
                using (new FileStream(file, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite)) { }
                if (!existed) File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UserException($"The report file '{file}' cannot be written: {e.Message}", e);
            }
        }
    }

    /// <summary>Writes the table, the plot and the JSON of <paramref name="result"/> beside <paramref name="references"/>.</summary>
    public void Write(EvaluationSubject subject, EvaluationResult result, EvaluationReferences references)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(references);
        Directory.CreateDirectory(Path.GetDirectoryName(Markdown)!);
        EvaluationPlot.Write(Plot, subject, result, references);
        File.WriteAllText(Json, JsonText(subject, result, references));
        File.WriteAllText(Markdown, Table(subject, result, references, Path.GetFileName(Plot)));
    }

    /// <summary>The Markdown of the report: a line of settings, a row per attribute, the mean and FD-judge, and the plot.</summary>
    public static string Table(EvaluationSubject subject, EvaluationResult result, EvaluationReferences references, string? plot = null)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(references);
        var (real, chance) = (references.Real, references.Chance);
        var s = result.Settings;
        var text = new StringBuilder();
        text.Append(Invariant, $"# Evaluation of `{subject.Model}`\n\n");
        text.Append(Invariant, $"{result.Count} prompts of `{subject.Source}`, {s.Steps} {s.Sampler} steps ({s.Schedule} schedule), guidance {s.Guidance}, ");
        text.Append(Invariant, $"seeds from {s.Seed}, on {subject.Device}, {result.Elapsed.TotalSeconds:0.0} s. ");
        text.Append("The judge reads each attribute back from the generated images and from the real renders of the same scenes");
        text.Append(chance is null ? ".\n\n" : "; chance is what it reads from the real render of another scene (an image that ignores its prompt).\n\n");
        text.Append(chance is null ? "| attribute | generated | real images | scored |\n| --- | ---: | ---: | ---: |\n"
                                   : "| attribute | generated | real images | chance | scored |\n| --- | ---: | ---: | ---: | ---: |\n");
        string Floor(Func<AttributeScores, double?> read) => chance is null ? "" : $" {Percent(read(chance))} |";
        foreach (string attribute in result.Scores.Attributes)
            text.Append(Invariant, $"| {attribute} | {Percent(result.Scores.Accuracy(attribute))} | {Percent(real.Accuracy(attribute))} |{Floor(c => c.Accuracy(attribute))} {result.Scores.Tallies[attribute].Scored} |\n");
        text.Append(Invariant, $"| **attribute accuracy** (mean over attributes) | **{Percent(result.Scores.Mean)}** | {Percent(real.Mean)} |{Floor(c => c.Mean)} |\n\n");
        if (result.Scores.Attributes.Any(a => result.Scores.Tallies[a].Scored == 0))
            text.Append("An attribute with no readings (—) is one these prompts never name or show, so it is left out of the mean. ");
        text.Append(Invariant, $"Pooled over all readings: {Percent(result.Scores.Pooled)}. ");
        text.Append(Invariant, $"FD-judge (Fréchet distance between the judge's features of the generated and the real images): {Number(result.FdJudge, "0.00")}.\n");
        if (plot is not null) text.Append(Invariant, $"\n![Accuracy per attribute]({plot})\n");
        return text.ToString();
    }

    /// <summary>
    /// The JSON of the report: <c>attributeAccuracy</c> (the mean over attributes, 0 to 1), <c>fdJudge</c>, one field per
    /// attribute (its accuracy, null where no scene showed it), then <c>run</c> (the settings), <c>real</c> (the real images'
    /// figures) and, where measured, <c>chance</c> (other scenes' real images, in the same form).
    /// </summary>
    public static string JsonText(EvaluationSubject subject, EvaluationResult result, EvaluationReferences references)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(references);
        var s = result.Settings;
        var root = new JsonObject
        {
            ["attributeAccuracy"] = Value(result.Scores.Mean),
            ["fdJudge"] = Value(result.FdJudge),
        };
        foreach (string attribute in result.Scores.Attributes) root[FieldName(attribute)] = Value(result.Scores.Accuracy(attribute));
        var scored = new JsonObject();
        foreach (string attribute in result.Scores.Attributes) scored[FieldName(attribute)] = result.Scores.Tallies[attribute].Scored;
        root["run"] = new JsonObject
        {
            ["model"] = subject.Model, ["source"] = subject.Source, ["count"] = result.Count, ["steps"] = s.Steps, ["guidance"] = s.Guidance,
            ["sampler"] = s.Sampler, ["schedule"] = s.Schedule, ["seed"] = s.Seed, ["device"] = subject.Device,
            ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 3), ["pooledAccuracy"] = Value(result.Scores.Pooled),
            ["attributes"] = new JsonArray([.. result.Scores.Attributes.Select(a => JsonValue.Create(a))]), ["scored"] = scored,
        };
        root["real"] = Figures(references.Real);
        if (references.Chance is { } chance) root["chance"] = Figures(chance);
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static JsonObject Figures(AttributeScores scores)
    {
        var node = new JsonObject { ["attributeAccuracy"] = Value(scores.Mean) };
        foreach (string attribute in scores.Attributes) node[FieldName(attribute)] = Value(scores.Accuracy(attribute));
        return node;
    }

    /// <summary>An attribute's name as a JSON field: camel case without spaces ("object shape" → "objectShape").</summary>
    public static string FieldName(string attribute)
    {
        ArgumentNullException.ThrowIfNull(attribute);
        var words = attribute.Split([' ', '-', '_'], StringSplitOptions.RemoveEmptyEntries);
        return string.Concat(words.Select((w, i) => i == 0 ? w.ToLowerInvariant() : char.ToUpperInvariant(w[0]) + w[1..].ToLowerInvariant()));
    }

    private static JsonNode? Value(double? x) => x is { } v && double.IsFinite(v) ? JsonValue.Create(v) : null;

    private static string Percent(double? x) => x is { } v && double.IsFinite(v) ? (v * 100).ToString("0.0", Invariant) + "%" : "—";

    private static string Number(double x, string format) => double.IsFinite(x) ? x.ToString(format, Invariant) : "—";
}
