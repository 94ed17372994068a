using System.Text.Json;
using EDiffI.Experts;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Training.Distributed;
using EDiffI.Networks;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>
/// Trains a whole noise-level tree (eDiff-I, Section 4.1 and Appendix B): the base model on all of
/// p(σ), then every child initialised from its parent's final weights and EMA and fine-tuned on its
/// interval (or the complement). Each node is an ordinary resumable run in <c>nodes/&lt;name&gt;/</c>;
/// a finished node is marked with <c>done.json</c>, so running again resumes where it stopped.
/// Ensembles are exported to <c>ensembles/&lt;name&gt;/</c>: one manifest beside one folder per expert.
/// </summary>
/// <param name="schedule">The branching schedule.</param>
/// <param name="runFolder">The run folder.</param>
/// <param name="createTrainer">
/// Builds the trainer of a node (its options already set), given its parent's state, a checkpoint to resume from, and the
/// communicator of the ranks that train it data-parallel (null: this process alone).
/// </param>
/// <param name="communicator">The run's ranks (null: one process).</param>
/// <param name="expertParallel">
/// With several ranks, train the nodes that are ready at once (siblings, whose parents are finished) side by side: the
/// ranks split into as many groups as the world size allows (a divisor of it, at most one per node), each group takes every
/// so-many-th of those nodes in schedule order and trains them data-parallel among its ranks (alone when a group is one
/// rank), its first rank writing their files; all ranks meet before the next nodes start. Otherwise every node trains on all ranks in turn.
/// </param>
public sealed class TreeTrainer(BranchingSchedule schedule, string runFolder,
    Func<TreeNode, string, TrainerState?, string?, ICommunicator?, Trainer> createTrainer,
    ICommunicator? communicator = null, bool expertParallel = false)
{
    private const string DoneFile = "done.json";

    /// <summary>Folder of a node's run (checkpoints/ and model/).</summary>
    public string NodeFolder(string node) => Path.Combine(runFolder, "nodes", node);

    /// <summary>Folder an ensemble is exported to.</summary>
    public string EnsembleFolder(string ensemble) => Path.Combine(runFolder, "ensembles", ensemble);

    /// <summary>True when the node has finished all its iterations.</summary>
    public bool IsDone(TreeNode node) => File.Exists(Path.Combine(NodeFolder(node.Name), DoneFile));

    /// <summary>Trains every unfinished node in schedule order. <paramref name="onNode"/> runs a started trainer (progress, cancellation).</summary>
    /// <remarks>
    /// <paramref name="only"/> restricts the run to some nodes (their parents must be finished), so
    /// independent nodes can train in parallel processes on one run folder.
    /// </remarks>
    public void Run(Action<TreeNode, Trainer> onNode, IReadOnlySet<string>? only = null, CancellationToken cancellationToken = default)
    {
        if (only is not null && only.FirstOrDefault(n => schedule.Nodes.All(m => m.Name != n)) is string unknown)
            throw new Runtime.UserException($"The schedule has no node '{unknown}' (nodes: {string.Join(", ", schedule.Nodes.Select(n => n.Name))}).");
        bool Pending(TreeNode node) => !IsDone(node) && (only is null || only.Contains(node.Name));
        if (!expertParallel || communicator is not { WorldSize: > 1 } world)
        {
            foreach (var node in schedule.Nodes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!Pending(node)) continue;
                if (node.Parent is string parentName && !IsDone(schedule.Node(parentName))) throw ParentNotFinished(node);
                TrainNode(node, communicator, onNode);
            }
            return;
        }
        var pending = schedule.Nodes.Where(Pending).ToList();
        if (pending.FirstOrDefault(n => n.Parent is string p && !IsDone(schedule.Node(p)) && pending.All(m => m.Name != p)) is { } blocked)
            throw ParentNotFinished(blocked);
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Every rank sees the same finished nodes here (they met after the last wave), so all pick the same wave.
            var wave = pending.Where(n => n.Parent is not string p || IsDone(schedule.Node(p))).ToList();
            int groups = Enumerable.Range(1, Math.Min(wave.Count, world.WorldSize)).Last(g => world.WorldSize % g == 0);
            int size = world.WorldSize / groups, color = world.Rank / size;
            using (var group = groups == 1 ? null : size == 1 ? null : world.Split(color, world.Rank))
            {
                var trainOn = groups == 1 ? world : group; // null: this rank trains its nodes alone
                for (int i = color; i < wave.Count; i += groups) TrainNode(wave[i], trainOn, onNode);
            }
            using (var all = new DataParallel(world)) all.Barrier(world.Device); // the next wave starts from this one's files
            pending = pending.Except(wave).ToList();
        }
    }

    private Runtime.UserException ParentNotFinished(TreeNode node) =>
        new($"Node '{node.Name}' starts from '{node.Parent}', which has not finished; train it first.");

    // Trains one node from its parent's last checkpoint (or resumes it) and marks it done; with ranks, their first writes.
    private void TrainNode(TreeNode node, ICommunicator? ranks, Action<TreeNode, Trainer> onNode)
    {
        string folder = NodeFolder(node.Name);
        string? resume = Checkpoint.FindLatest(Path.Combine(folder, "checkpoints"));
        TrainerState? parent = null;
        try
        {
            if (node.Parent is string p && resume is null)
            {
                string parentCheckpoint = Checkpoint.FindLatest(Path.Combine(NodeFolder(p), "checkpoints"))
                    ?? throw new Runtime.UserException($"The finished node '{p}' has no checkpoint in {NodeFolder(p)}; train it again.");
                parent = TrainerState.FromCheckpoint(parentCheckpoint);
            }
            using var trainer = createTrainer(node, folder, parent, resume, ranks);
            onNode(node, trainer);
            if (trainer.Step >= node.Iterations)
            {
                trainer.SaveCheckpoint();
                if (trainer.IsWriter)
                    EDiffI.IO.SafeTensorsWeights.WriteAtomically(Path.Combine(folder, DoneFile),
                        s => JsonSerializer.Serialize(s, new { node = node.Name, steps = trainer.Step }));
                trainer.Barrier(); // data-parallel ranks read this node's files next (its children start from them)
            }
        }
        finally
        {
            parent?.Dispose();
        }
    }

    /// <summary>
    /// Writes every ensemble whose nodes are all finished: each expert's EMA network (cast to
    /// <paramref name="dtype"/>) in its own folder, encoders copied from the base node's model, and a
    /// manifest that names the experts and the σ ranges they serve. Returns the folders written.
    /// Several processes may export at once (sibling nodes trained side by side by <c>train --nodes</c> finish together):
    /// each writes its own temporary folder and swaps it in, so an ensemble folder is always one whole export.
    /// </summary>
    public IReadOnlyList<string> ExportEnsembles(INetworkFamily family, ScalarType dtype)
    {
        var written = new List<string>();
        foreach (var (name, members) in schedule.Ensembles)
        {
            if (!members.All(m => IsDone(schedule.Node(m)))) continue;
            string target = EnsembleFolder(name);
            string temp = $"{target}.partial-{Environment.ProcessId}-{Guid.NewGuid():N}";
            Directory.CreateDirectory(temp);
            var spec = schedule.Ensemble(name);
            ModelManifest? manifest = null;
            foreach (var expert in spec.Experts)
            {
                string model = Path.Combine(NodeFolder(expert.Name), "model");
                var nodeManifest = ModelManifest.Load(model);
                manifest ??= nodeManifest;
                using var network = family.Load(model);
                network.Save(Path.Combine(temp, expert.Folder), dtype);
            }
            // Encoders come from the first expert's model folder (every node trains with the same ones).
            string first = Path.Combine(NodeFolder(spec.Experts[0].Name), "model");
            foreach (var dir in Directory.GetDirectories(first)) ModelLoader.CopyFolder(dir, Path.Combine(temp, Path.GetFileName(dir)));
            (manifest! with { Ensemble = spec, TrainedSteps = spec.Experts.Sum(e => schedule.Node(e.Name).Iterations) }).Save(temp);
            SwapIn(temp, target);
            written.Add(target);
        }
        return written;
    }

    // Puts the folder `temp` at `target`, moving an earlier export aside first. Another process may be doing the same
    // with its own export of the same finished nodes (the same files): whichever lands last stands, and when this one
    // keeps losing the race to others, theirs stands and this one is dropped.
    private static void SwapIn(string temp, string target)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            string old = $"{target}.old-{Guid.NewGuid():N}";
            try
            {
                Directory.Move(target, old);
                Directory.Delete(old, true);
            }
            catch (DirectoryNotFoundException)
            {
                // No earlier export, or another process has just moved it aside.
            }
            try
            {
                Directory.Move(temp, target);
                return;
            }
            catch (IOException) when (Directory.Exists(temp))
            {
                // Another export landed between the two moves: move it aside again.
            }
        }
        if (!Directory.Exists(target)) throw new IOException($"The ensemble '{target}' could not be put in place; its export is left in '{temp}'.");
        Directory.Delete(temp, true);
    }
}
