using System.Text.Json;
using System.Text.Json.Serialization;
using EDiffI.Diffusion;

namespace EDiffI.Experts;

/// <summary>A range [Low, High) of quantiles of the training distribution p(σ); 0 ≤ Low &lt; High ≤ 1.</summary>
public sealed record QuantileRange(double Low, double High)
{
    /// <summary>Probability mass of the range under p(σ).</summary>
    [JsonIgnore] public double Mass => High - Low;

    /// <summary>The σ interval the range covers (High may be +∞).</summary>
    public SigmaInterval ToSigma(double pMean, double pStd) =>
        new(Edm.SigmaAtQuantile(Low, pMean, pStd), Edm.SigmaAtQuantile(High, pMean, pStd));
}

/// <summary>
/// One node of eDiff-I's noise-level tree (Section 4.1, Appendix B, Tables 5 and 6): it is initialised
/// from its parent (weights and EMA) and fine-tuned on the σ of its interval, or of the complement.
/// </summary>
public sealed record TreeNode
{
    /// <summary>Unique name; ensembles and children refer to it.</summary>
    public string Name { get; init; } = "";
    /// <summary>Level l: the distribution is split into 2^l intervals of equal probability.</summary>
    public int Level { get; init; }
    /// <summary>Index i of the node's interval at its level (0 = lowest noise).</summary>
    public int Index { get; init; }
    /// <summary>Last index of a run of neighbouring intervals the node owns (the middle expert); null for one interval.</summary>
    public int? LastIndex { get; init; }
    /// <summary>True for "every noise level except this node" (Appendix B's negative entries).</summary>
    public bool Complement { get; init; }
    /// <summary>Node whose weights and EMA this one starts from; null for the base model (random initialisation).</summary>
    public string? Parent { get; init; }
    /// <summary>Training iterations of this node.</summary>
    public long Iterations { get; init; }

    /// <summary>The quantile ranges the node trains on and, in an ensemble, serves.</summary>
    public IReadOnlyList<QuantileRange> Quantiles()
    {
        var (low, _) = Edm.TreeInterval(Level, Index);
        var (_, high) = Edm.TreeInterval(Level, LastIndex ?? Index);
        if (!Complement) return [new QuantileRange(low, high)];
        var ranges = new List<QuantileRange>();
        if (low > 0) ranges.Add(new QuantileRange(0, low));
        if (high < 1) ranges.Add(new QuantileRange(high, 1));
        return ranges;
    }

    /// <summary>A short description such as "level 2, interval 3 of 4" for logs.</summary>
    public override string ToString()
    {
        string span = LastIndex is int last && last != Index ? $"intervals {Index}–{last}" : $"interval {Index}";
        return $"{Name} (level {Level}, {(Complement ? "all but " : "")}{span} of {1 << Level})";
    }
}

/// <summary>
/// A branching schedule, like Tables 5 and 6 of the paper: the nodes to train, in an order where every
/// parent comes before its children, and named ensembles that pick nodes whose ranges partition [0, 1).
/// </summary>
public sealed record BranchingSchedule
{
    /// <summary>P_mean of p(σ) the tree splits (EDM's default −1.2).</summary>
    public double PMean { get; init; } = -1.2;
    /// <summary>P_std of p(σ) the tree splits (EDM's default 1.2).</summary>
    public double PStd { get; init; } = 1.2;
    /// <summary>The nodes; parents first.</summary>
    public List<TreeNode> Nodes { get; init; } = [];
    /// <summary>Ensembles by name: the nodes they are made of.</summary>
    public Dictionary<string, List<string>> Ensembles { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Reads and validates a schedule file; the message names the file and every problem.</summary>
    /// <exception cref="InvalidDataException">When the file is not a valid schedule.</exception>
    public static BranchingSchedule Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"The branching schedule '{path}' does not exist.", path);
        BranchingSchedule schedule;
        try
        {
            schedule = JsonSerializer.Deserialize<BranchingSchedule>(File.ReadAllText(path), Json) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid branching schedule: {e.Message}", e);
        }
        var problems = schedule.Problems();
        if (problems.Count > 0) throw new InvalidDataException($"'{path}' is not a valid branching schedule: {string.Join("; ", problems)}.");
        return schedule;
    }

    /// <summary>Writes the schedule as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The node called <paramref name="name"/>.</summary>
    public TreeNode Node(string name) => Nodes.FirstOrDefault(n => n.Name == name)
        ?? throw new KeyNotFoundException($"the schedule has no node '{name}'");

    /// <summary>Every problem of the schedule (empty when it is valid).</summary>
    public List<string> Problems()
    {
        var problems = new List<string>();
        if (!(PStd > 0)) problems.Add($"pStd must be positive (got {PStd})");
        if (Nodes.Count == 0) problems.Add("it has no nodes");
        var seen = new HashSet<string>();
        foreach (var n in Nodes)
        {
            if (string.IsNullOrWhiteSpace(n.Name)) problems.Add("a node has no name");
            else if (!seen.Add(n.Name)) problems.Add($"node '{n.Name}' appears twice");
            if (n.Level < 0 || n.Level > 20) problems.Add($"node '{n.Name}': level {n.Level} is outside 0–20");
            else
            {
                int count = 1 << n.Level;
                if (n.Index < 0 || n.Index >= count) problems.Add($"node '{n.Name}': index {n.Index} is outside 0–{count - 1} at level {n.Level}");
                if (n.LastIndex is int last && (last < n.Index || last >= count))
                    problems.Add($"node '{n.Name}': lastIndex {last} must lie between index {n.Index} and {count - 1}");
                if (n.Complement && n.Level == 0) problems.Add($"node '{n.Name}': the complement of the whole distribution is empty");
            }
            if (n.Iterations < 0) problems.Add($"node '{n.Name}': iterations must not be negative");
            if (n.Parent is not null && !seen.Contains(n.Parent))
                problems.Add(Nodes.Any(m => m.Name == n.Parent)
                    ? $"node '{n.Name}' comes before its parent '{n.Parent}'"
                    : $"node '{n.Name}' names a parent '{n.Parent}' that does not exist");
        }
        foreach (var (name, members) in Ensembles)
        {
            var missing = members.Where(m => !seen.Contains(m)).ToList();
            if (missing.Count > 0) { problems.Add($"ensemble '{name}' names missing nodes {string.Join(", ", missing)}"); continue; }
            if (members.Count == 0) { problems.Add($"ensemble '{name}' is empty"); continue; }
            var partition = ExpertEnsembleSpec.PartitionProblem(members.Select(m => Node(m).Quantiles()).ToList());
            if (partition is not null) problems.Add($"ensemble '{name}': {partition}");
        }
        return problems;
    }

    /// <summary>The manifest entries of ensemble <paramref name="name"/> (experts in the order listed).</summary>
    public ExpertEnsembleSpec Ensemble(string name)
    {
        if (!Ensembles.TryGetValue(name, out var members)) throw new KeyNotFoundException($"the schedule has no ensemble '{name}'");
        return new ExpertEnsembleSpec
        {
            PMean = PMean, PStd = PStd,
            Experts = members.Select(m => new ExpertEntry { Name = m, Folder = m, Quantiles = Node(m).Quantiles().ToList() }).ToList(),
        };
    }
}
