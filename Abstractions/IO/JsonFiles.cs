using System.Text.Json;

namespace EDiffI.IO;

/// <summary>A versioned JSON file the framework writes: its name in messages and where it keeps its version.</summary>
/// <param name="What">What the file is, for messages ("model manifest").</param>
/// <param name="VersionField">The JSON property that holds the version; a file without it is version 1.</param>
/// <param name="Newest">The newest version this build reads.</param>
/// <param name="Prefix">
/// When the version is written as a string <c>&lt;Prefix&gt;&lt;n&gt;</c> (<c>"format": "ediffi-model/1"</c>), the
/// prefix; null when it is a plain number (<c>"version": 1</c>).
/// </param>
public sealed record JsonFileKind(string What, string VersionField, int Newest, string? Prefix = null)
{
    /// <summary>How the newest version is written.</summary>
    public string Written => Prefix is null ? Newest.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"\"{Prefix}{Newest}\"";
}

/// <summary>
/// Reads the framework's JSON files (<c>model.json</c>, <c>unet.json</c>...) so that every way one can
/// be wrong (malformed JSON, a field of the wrong type, a version from a newer EDiffI) is refused with
/// an <see cref="InvalidDataException"/> naming the file and the field.
/// </summary>
public static class JsonFiles
{
    /// <summary>Reads and checks the file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">When there is no such file.</exception>
    /// <exception cref="InvalidDataException">Naming the file, and the field where there is one, that is wrong.</exception>
    public static T Read<T>(string path, JsonFileKind kind, JsonSerializerOptions options)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No {kind.What} at '{path}'.", path);
        return Parse<T>(File.ReadAllText(path), path, kind, options);
    }

    /// <summary>Parses and checks <paramref name="json"/>; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">Naming the source, and the field where there is one, that is wrong.</exception>
    public static T Parse<T>(string json, string source, JsonFileKind kind, JsonSerializerOptions options)
    {
        string invalid = $"'{source}' is not a valid {kind.What}";
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{invalid}: it is not well-formed JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{invalid}: it holds a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object.");
            CheckVersion(root, source, kind);
            try
            {
                return root.Deserialize<T>(options) ?? throw new InvalidDataException($"{invalid}: it is empty.");
            }
            catch (JsonException e)
            {
                string field = e.Path is null or "$" ? "(the whole file)" : e.Path.StartsWith("$.", StringComparison.Ordinal) ? e.Path[2..] : e.Path;
                throw new InvalidDataException($"{invalid}: field '{field}' has the wrong type or value ({FirstSentence(e.Message)}).", e);
            }
        }
    }

    // An absent version is 1; a version above the newest is a file from a newer EDiffI, refused before its fields are read.
    private static void CheckVersion(JsonElement root, string source, JsonFileKind kind)
    {
        if (!root.TryGetProperty(kind.VersionField, out var field)) return;
        int? version = null;
        if (kind.Prefix is null && field.ValueKind == JsonValueKind.Number && field.TryGetInt32(out int number)) version = number;
        else if (kind.Prefix is string prefix && field.ValueKind == JsonValueKind.String && field.GetString()! is string text
                 && text.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(text[prefix.Length..], System.Globalization.NumberStyles.None,
                     System.Globalization.CultureInfo.InvariantCulture, out int tail)) version = tail;
        if (version is not >= 1)
            throw new InvalidDataException($"'{source}' is not a valid {kind.What}: field '{kind.VersionField}' should be {kind.Written}, not {field.GetRawText()}.");
        if (version > kind.Newest)
            throw new InvalidDataException($"'{source}' was written by a newer EDiffI: it is {kind.What} version {version}, and this build reads " +
                                           $"up to version {kind.Newest}. Update EDiffI to open it.");
    }

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(". ", StringComparison.Ordinal);
        return (end < 0 ? message : message[..end]).TrimEnd('.');
    }
}
