using System.Text.RegularExpressions;
using EDiffI.Encoders;
using Microsoft.ML.Tokenizers;

namespace EDiffI.Plugins.T5;

/// <summary>
/// T5's tokenizer as transformers' T5Tokenizer behaves: the checkpoint's SentencePiece unigram model
/// (<c>spiece.model</c>, read by Microsoft.ML.Tokenizers), <c>&lt;/s&gt;</c> appended, the 100
/// sentinels <c>&lt;extra_id_N&gt;</c> as the last ids (id = pieces + 99 − N), and character spans
/// of every token in the original prompt.
/// </summary>
/// <remarks>
/// Two fixes make Microsoft.ML.Tokenizers 2.0.1 reproduce SentencePiece's ids exactly:
/// <list type="number">
/// <item>T5's model has no beginning-of-sentence piece (<c>bos_id = −1</c>), and the library's unigram
/// model indexes the piece table with it (IndexOutOfRangeException). The model is loaded with
/// <c>bos_id</c> set to the padding piece: a second trainer_spec record appended to the protobuf,
/// which protobuf merges into the first. BOS is never emitted.</item>
/// <item>SentencePiece merges consecutive unknown characters into one <c>&lt;unk&gt;</c> after the
/// Viterbi search (unigram_model.cc); the library emits one per character. They are merged here.</item>
/// </list>
/// The normaliser (nmt_nfkc charsmap, dummy prefix, whitespace collapsing) is the library's and agrees.
/// </remarks>
public sealed partial class T5Tokenizer
{
    /// <summary>Number of sentinel tokens T5 adds after the SentencePiece pieces.</summary>
    public const int SentinelCount = 100;

    private readonly SentencePieceTokenizer _sp;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _normalizedChars = new(StringComparer.Ordinal);

    private T5Tokenizer(SentencePieceTokenizer sp, int pieceCount) => (_sp, PieceCount) = (sp, pieceCount);

    /// <summary>Pieces of the SentencePiece model.</summary>
    public int PieceCount { get; }

    /// <summary>Pieces plus sentinels (the smallest vocab_size a model can have).</summary>
    public int VocabularySize => PieceCount + SentinelCount;

    /// <summary>The end-of-sequence id.</summary>
    public int EosId => _sp.EndOfSentenceId;

    /// <summary>The padding id.</summary>
    public const int PadId = 0;

    /// <summary>The unknown-piece id.</summary>
    public int UnknownId => _sp.UnknownId;

    /// <summary>Id of <c>&lt;extra_id_<paramref name="n"/>&gt;</c>.</summary>
    public int SentinelId(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(n, SentinelCount);
        return PieceCount + SentinelCount - 1 - n;
    }

    /// <summary>Loads <c>spiece.model</c> (a file, or a folder holding it).</summary>
    /// <exception cref="InvalidDataException">When the file is missing or not a SentencePiece model.</exception>
    public static T5Tokenizer Load(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "spiece.model") : path;
        if (!File.Exists(file))
            throw new InvalidDataException($"No SentencePiece model at '{file}' (a T5 checkpoint folder needs spiece.model).");
        // Appended trainer_spec { bos_id: 0 } — field 2 (length 3) holding field 41 = 0; see remarks.
        byte[] bytes = [.. File.ReadAllBytes(file), 0x12, 0x03, 0xC8, 0x02, 0x00];
        SentencePieceTokenizer sp;
        try
        {
            sp = SentencePieceTokenizer.Create(new MemoryStream(bytes), addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{file}' is not a SentencePiece model Microsoft.ML.Tokenizers can read ({e.Message}).", e);
        }
        // The library's vocabulary may list a piece under two spellings; the ids are what count.
        return new T5Tokenizer(sp, sp.Vocabulary.Values.Max() + 1);
    }

    /// <summary>
    /// The tokens of <paramref name="text"/> with <c>&lt;/s&gt;</c> last, truncated to
    /// <paramref name="maxTokens"/> keeping <c>&lt;/s&gt;</c> (as transformers does).
    /// </summary>
    public PromptTokenization Tokenize(string text, int maxTokens = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        var tokens = new List<PromptToken>();
        int at = 0;
        foreach (Match m in Sentinel().Matches(text))
        {
            int n = int.Parse(m.Groups[1].Value);
            if (n >= SentinelCount) continue;
            Segment(text, at, m.Index, tokens);
            tokens.Add(new PromptToken(SentinelId(n), m.Value, m.Index, m.Length));
            at = m.Index + m.Length;
        }
        Segment(text, at, text.Length, tokens);
        int dropped = Math.Max(0, tokens.Count + 1 - maxTokens);
        if (dropped > 0) tokens.RemoveRange(tokens.Count - dropped, dropped);
        tokens.Add(new PromptToken(EosId, "</s>", -1, 0));
        return new PromptTokenization(tokens, dropped);
    }

    /// <summary>Token ids of <paramref name="text"/> with <c>&lt;/s&gt;</c> last.</summary>
    public IReadOnlyList<int> Encode(string text, int maxTokens = int.MaxValue) => Tokenize(text, maxTokens).Tokens.Select(t => t.Id).ToList();

    /// <summary>The text of an id (a piece, a sentinel or a special token).</summary>
    public string PieceOf(int id) =>
        id >= PieceCount ? $"<extra_id_{PieceCount + SentinelCount - 1 - id}>" : _sp.Decode([id], considerSpecialTokens: true) is { Length: > 0 } s ? s : $"<{id}>";

    /// <summary>Decodes ids to text (sentinels written out, padding and end skipped).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var text = new System.Text.StringBuilder();
        var run = new List<int>();
        void Flush() { if (run.Count > 0) { text.Append(_sp.Decode(run)); run.Clear(); } }
        foreach (int id in ids)
        {
            if (id == PadId || id == EosId) continue;
            if (id >= PieceCount) { Flush(); text.Append(' ').Append(PieceOf(id)).Append(' '); }
            else run.Add(id);
        }
        Flush();
        return MultipleSpaces().Replace(text.ToString(), " ").Trim();
    }

    // One stretch of text between sentinels: SentencePiece with its own dummy prefix, unknowns merged, spans mapped back.
    private void Segment(string text, int start, int end, List<PromptToken> into)
    {
        if (end <= start || string.IsNullOrWhiteSpace(text.AsSpan(start, end - start).ToString())) return;
        string original = text[start..end];
        var encoded = _sp.EncodeToTokens(original, out string? normalizedOut);
        string normalized = normalizedOut ?? original;
        var map = Align(original, normalized);
        var merged = new List<(int Id, string Value, int From, int To)>();
        foreach (var t in encoded)
        {
            var (from, to) = (t.Offset.Start.Value, t.Offset.End.Value);
            if (t.Id == UnknownId && merged.Count > 0 && merged[^1].Id == UnknownId && merged[^1].To == from)
                merged[^1] = (UnknownId, merged[^1].Value + t.Value, merged[^1].From, to);
            else merged.Add((t.Id, t.Value, from, to));
        }
        int cursor = 0;
        foreach (var (id, value, from, to) in merged)
        {
            var (s, l) = map is not null ? SpanOf(map, normalized, from, to, cursor) : Search(original, value, cursor);
            cursor = Math.Max(cursor, s + l);
            into.Add(new PromptToken(id, id == UnknownId ? "<unk>" : value, start + s, l));
        }
    }

    // Original characters covered by normalized[from..to): the prefix ▁ of a word covers nothing, a lone ▁ the space it stands for.
    private static (int Start, int Length) SpanOf((int Start, int End)[] map, string normalized, int from, int to, int cursor)
    {
        int s = int.MaxValue, e = -1;
        bool onlySpace = true;
        for (int k = from; k < to && k < map.Length; k++)
            if (normalized[k] != '▁') onlySpace = false;
        for (int k = from; k < to && k < map.Length; k++)
        {
            if (!onlySpace && normalized[k] == '▁') continue;
            if (map[k].Start < 0) continue;
            s = Math.Min(s, map[k].Start);
            e = Math.Max(e, map[k].End);
        }
        return e < 0 ? (cursor, 0) : (s, e - s);
    }

    // Fallback when the per-character alignment fails: find the piece's text from the cursor on.
    private static (int Start, int Length) Search(string original, string value, int cursor)
    {
        string needle = value.TrimStart('▁');
        if (needle.Length == 0) return (cursor, 0);
        int at = original.IndexOf(needle, cursor, StringComparison.OrdinalIgnoreCase);
        return at < 0 ? (cursor, 0) : (at, needle.Length);
    }

    /// <summary>
    /// For each character of the normalized text, the original characters it came from ((−1, −1) for
    /// the dummy prefix), or null when per-character normalization does not reproduce the whole text.
    /// </summary>
    private (int Start, int End)[]? Align(string original, string normalized)
    {
        var map = new (int, int)[normalized.Length];
        int j = 0, pendingSpace = -1;
        if (_sp.AddDummyPrefix && normalized.Length > 0 && normalized[0] == '▁') map[j++] = (-1, -1);
        for (int i = 0; i < original.Length;)
        {
            int width = char.IsHighSurrogate(original[i]) && i + 1 < original.Length ? 2 : 1;
            string c = original.Substring(i, width);
            string piece = NormalizeChar(c);
            if (piece.Length == 0)
            {
                if (pendingSpace < 0) pendingSpace = i;
                i += width;
                continue;
            }
            if (j < normalized.Length && normalized[j] == '▁' && piece[0] != '▁')
                map[j++] = pendingSpace >= 0 ? (pendingSpace, pendingSpace + 1) : (i, i);
            pendingSpace = -1;
            if (!normalized.AsSpan(j).StartsWith(piece, StringComparison.Ordinal)) return null;
            for (int k = 0; k < piece.Length; k++) map[j + k] = (i, i + width);
            j += piece.Length;
            i += width;
        }
        return j == normalized.Length ? map : null;
    }

    // SentencePiece's normalization of one character alone, without the dummy prefix ("" for whitespace and removed characters).
    private string NormalizeChar(string c)
    {
        return _normalizedChars.GetOrAdd(c, ch =>
        {
            // The library applies the charsmap while encoding (its Normalizer alone does not), so encode the character.
            _sp.EncodeToTokens(ch, out string? n);
            n ??= ch;
            return n.StartsWith('▁') ? n[1..] : n;
        });
    }

    [GeneratedRegex(@"<extra_id_(\d{1,2})>")]
    private static partial Regex Sentinel();

    [GeneratedRegex(@"\s{2,}")]
    private static partial Regex MultipleSpaces();
}
