using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EDiffI.Encoders;

namespace EDiffI.Plugins.Clip;

/// <summary>
/// CLIP's byte-level BPE tokenizer (OpenAI's <c>simple_tokenizer.py</c>, as Hugging Face's
/// CLIPTokenizer runs it) read from <c>vocab.json</c> + <c>merges.txt</c>: NFC, whitespace runs
/// collapsed to one space, lower case; CLIP's split pattern; each piece as UTF-8 bytes mapped to
/// GPT-2's printable byte alphabet, the last symbol of a word carrying <c>&lt;/w&gt;</c>; merges
/// applied lowest rank first; symbols missing from the vocabulary become the unknown token.
/// Every token keeps the span of the ORIGINAL prompt it came from.
/// </summary>
/// <remarks>
/// Written here rather than taken from Microsoft.ML.Tokenizers 2.0.1: its BpeTokenizer has no
/// byte-level alphabet combined with an end-of-word suffix, and reports offsets in the normalised
/// text, while paint-with-words needs spans in the prompt as typed (CLIP collapses whitespace).
/// </remarks>
public sealed partial class ClipTokenizer
{
    /// <summary>The vocabulary file's name.</summary>
    public const string VocabFile = "vocab.json";
    /// <summary>The merges file's name.</summary>
    public const string MergesFile = "merges.txt";
    /// <summary>The start-of-text token.</summary>
    public const string StartOfText = "<|startoftext|>";
    /// <summary>The end-of-text token (also CLIP's unknown and padding token).</summary>
    public const string EndOfText = "<|endoftext|>";
    private const string EndOfWord = "</w>";

    private readonly Dictionary<string, int> _vocab;
    private readonly string[] _pieces;
    private readonly Dictionary<(string, string), int> _ranks = [];
    private static readonly string[] ByteToChar = BuildByteAlphabet();

    /// <summary>Id of the start-of-text token.</summary>
    public int BosId { get; }
    /// <summary>Id of the end-of-text token.</summary>
    public int EosId { get; }
    /// <summary>Id written after the end-of-text token up to the full length.</summary>
    public int PadId { get; }
    /// <summary>Id of symbols missing from the vocabulary.</summary>
    public int UnknownId { get; }
    /// <summary>Number of entries in the vocabulary.</summary>
    public int VocabularySize => _vocab.Count;

    /// <summary>A tokenizer from a vocabulary, ranked merges and the names of its padding and unknown tokens.</summary>
    public ClipTokenizer(IReadOnlyDictionary<string, int> vocab, IEnumerable<(string Left, string Right)> merges,
                         string padToken = EndOfText, string unknownToken = EndOfText)
    {
        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        int Special(string token) => _vocab.TryGetValue(token, out int id) ? id
            : throw new InvalidDataException($"the CLIP vocabulary has no '{token}' token");
        BosId = Special(StartOfText);
        EosId = Special(EndOfText);
        PadId = Special(padToken);
        UnknownId = Special(unknownToken);
        _pieces = new string[_vocab.Values.Max() + 1];
        foreach (var (piece, id) in _vocab)
        {
            if (id < 0) throw new InvalidDataException($"the CLIP vocabulary gives '{piece}' the negative id {id}");
            _pieces[id] = piece;
        }
        int rank = 0;
        foreach (var pair in merges)
        {
            // A merge whose product is not in the vocabulary could never yield a known token.
            if (_vocab.ContainsKey(pair.Left + pair.Right)) _ranks.TryAdd(pair, rank);
            rank++;
        }
    }

    /// <summary>Reads <c>vocab.json</c>, <c>merges.txt</c> and, when present, the padding and unknown tokens of <c>tokenizer_config.json</c>.</summary>
    /// <exception cref="FileNotFoundException">When a file is missing.</exception>
    /// <exception cref="InvalidDataException">When a file cannot be read.</exception>
    public static ClipTokenizer FromFolder(string folder)
    {
        string vocabPath = Path.Combine(folder, VocabFile), mergesPath = Path.Combine(folder, MergesFile);
        foreach (string path in new[] { vocabPath, mergesPath })
            if (!File.Exists(path)) throw new FileNotFoundException($"The CLIP tokenizer needs '{path}' (vocab.json and merges.txt beside config.json).", path);
        Dictionary<string, int> vocab;
        try
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabPath))
                    ?? throw new InvalidDataException($"'{vocabPath}' is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{vocabPath}' is not a JSON object of token → id ({e.Message}).", e);
        }
        var merges = new List<(string, string)>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(mergesPath))
        {
            lineNumber++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2) throw new InvalidDataException($"'{mergesPath}' line {lineNumber} is not a pair of symbols: '{line}'.");
            merges.Add((parts[0], parts[1]));
        }
        string pad = EndOfText, unknown = EndOfText;
        string configPath = Path.Combine(folder, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            try
            {
                var config = JsonNode.Parse(File.ReadAllText(configPath));
                pad = TokenName(config?["pad_token"]) ?? pad;
                unknown = TokenName(config?["unk_token"]) ?? unknown;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"'{configPath}' is not valid JSON ({e.Message}).", e);
            }
        }
        try
        {
            return new ClipTokenizer(vocab, merges, pad, unknown);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{folder}': {e.Message}.", e);
        }
    }

    // tokenizer_config.json names a token either as a string or as {"content": ...}.
    private static string? TokenName(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject o => o["content"]?.GetValue<string>(),
        _ => null,
    };

    /// <summary>The vocabulary entry of <paramref name="id"/>.</summary>
    public string Piece(int id) => id >= 0 && id < _pieces.Length && _pieces[id] is string p ? p : EndOfText;

    /// <summary>
    /// A prompt's tokens as the text tower sees them: start token, at most <paramref name="maxTokens"/> − 2
    /// content tokens, end token (truncation keeps the end token last); spans in the original prompt.
    /// </summary>
    public PromptTokenization Tokenize(string prompt, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var content = Split(prompt);
        int keep = Math.Min(content.Count, maxTokens - 2);
        var tokens = new List<PromptToken>(keep + 2) { new(BosId, StartOfText, -1, 0) };
        tokens.AddRange(content.Take(keep));
        tokens.Add(new PromptToken(EosId, EndOfText, -1, 0));
        return new PromptTokenization(tokens, content.Count - keep);
    }

    /// <summary>Token ids [prompts × length] padded after the end token, and the mask of real tokens (start and end included).</summary>
    public (long[] Ids, bool[] Mask) EncodeBatch(IReadOnlyList<string> prompts, int length)
    {
        var ids = new long[prompts.Count * length];
        var mask = new bool[prompts.Count * length];
        for (int i = 0; i < prompts.Count; i++)
        {
            var tokens = Tokenize(prompts[i], length).Tokens;
            for (int j = 0; j < length; j++)
            {
                ids[i * length + j] = j < tokens.Count ? tokens[j].Id : PadId;
                mask[i * length + j] = j < tokens.Count;
            }
        }
        return (ids, mask);
    }

    /// <summary>The content tokens of a prompt (no start or end token, no truncation), with their spans in it.</summary>
    public IReadOnlyList<PromptToken> Split(string prompt)
    {
        var (text, from, to) = Normalize(prompt);
        var result = new List<PromptToken>();
        foreach (Match piece in SplitPattern().Matches(text))
        {
            int start = from[piece.Index], end = to[piece.Index + piece.Length - 1];
            if (piece.Value is StartOfText or EndOfText)
            {
                result.Add(new PromptToken(_vocab[piece.Value], piece.Value, start, end - start));
                continue;
            }
            foreach (var (id, first, last) in Bpe(piece.Value))
            {
                int s = from[piece.Index + first], e = to[piece.Index + last];
                result.Add(new PromptToken(id, Piece(id), s, e - s));
            }
        }
        return result;
    }

    /// <summary>
    /// Byte-pair encoding of one piece: its UTF-8 bytes as symbols (the last with the end-of-word
    /// suffix), then the lowest-ranked adjacent pair merged, leftmost first, until no pair merges.
    /// Returns each token's id and the first and last character of the piece it covers.
    /// </summary>
    private List<(int Id, int First, int Last)> Bpe(string piece)
    {
        var symbols = new List<(string Text, int First, int Last, bool Known)>();
        for (int c = 0; c < piece.Length; c++)
        {
            int width = char.IsSurrogatePair(piece, c) ? 2 : 1;
            foreach (byte b in Encoding.UTF8.GetBytes(piece.Substring(c, width)))
                symbols.Add((ByteToChar[b], c, c + width - 1, true));
            c += width - 1;
        }
        var last = symbols[^1];
        symbols[^1] = last with { Text = last.Text + EndOfWord };
        for (int i = 0; i < symbols.Count; i++)
            symbols[i] = symbols[i] with { Known = _vocab.ContainsKey(symbols[i].Text) };
        while (true)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                if (symbols[i].Known && symbols[i + 1].Known
                    && _ranks.TryGetValue((symbols[i].Text, symbols[i + 1].Text), out int rank) && rank < bestRank)
                {
                    best = i;
                    bestRank = rank;
                }
            }
            if (best < 0) break;
            var (a, b2) = (symbols[best], symbols[best + 1]);
            symbols[best] = (a.Text + b2.Text, a.First, b2.Last, true);
            symbols.RemoveAt(best + 1);
        }
        return symbols.Select(s => (s.Known ? _vocab[s.Text] : UnknownId, s.First, s.Last)).ToList();
    }

    /// <summary>
    /// CLIP's normalisation (NFC, whitespace runs to one space, lower case) with, for each character of
    /// the result, the span [from, to) of the original it came from.
    /// </summary>
    internal static (string Text, int[] From, int[] To) Normalize(string prompt)
    {
        var chars = new StringBuilder(prompt.Length);
        var from = new List<int>(prompt.Length);
        var to = new List<int>(prompt.Length);
        // NFC segment by segment (a base character and the marks after it), so each output character knows its source.
        for (int i = 0; i < prompt.Length;)
        {
            int end = i + (char.IsSurrogatePair(prompt, i) ? 2 : 1);
            while (end < prompt.Length && IsMark(prompt, end)) end += char.IsSurrogatePair(prompt, end) ? 2 : 1;
            string segment = prompt[i..end];
            if (!segment.IsNormalized(NormalizationForm.FormC)) segment = segment.Normalize(NormalizationForm.FormC);
            bool whitespace = segment.Length == 1 && char.IsWhiteSpace(segment[0]);
            if (whitespace && chars.Length > 0 && chars[^1] == ' ' && to[^1] == i)
            {
                to[^1] = end;
            }
            else
            {
                foreach (char c in segment)
                {
                    chars.Append(whitespace ? ' ' : char.ToLowerInvariant(c));
                    from.Add(i);
                    to.Add(end);
                }
            }
            i = end;
        }
        return (chars.ToString(), from.ToArray(), to.ToArray());
    }

    private static bool IsMark(string s, int i) => CharUnicodeInfo.GetUnicodeCategory(s, i) is
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary>GPT-2's map from bytes to printable characters (printable Latin-1 bytes map to themselves).</summary>
    private static string[] BuildByteAlphabet()
    {
        var map = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = ((char)(printable ? b : next++)).ToString();
        }
        return map;
    }

    // CLIP's pre-tokenisation: special tokens, English contractions, letter runs, single digits, other symbol runs.
    [GeneratedRegex(@"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", RegexOptions.CultureInvariant)]
    private static partial Regex SplitPattern();
}
