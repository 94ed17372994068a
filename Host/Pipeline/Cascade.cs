using EDiffI.Host.Runtime;
using TorchSharp;
using EDiffI.SuperResolution;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// The loaded super-resolution stages of a model (model.json's <c>cascade</c>), in order, each on the model's
/// device in its compute dtype. Empty for a base-only model.
/// </summary>
public sealed class Cascade : IDisposable
{
    private readonly List<(CascadeStageSpec Spec, ISuperResolutionStage Stage)> _stages;

    private Cascade(List<(CascadeStageSpec, ISuperResolutionStage)> stages) => _stages = stages;

    /// <summary>A cascade with no stages.</summary>
    public static Cascade Empty => new([]);

    /// <summary>The stages with their model.json entries, in order.</summary>
    public IReadOnlyList<(CascadeStageSpec Spec, ISuperResolutionStage Stage)> Stages => _stages;

    /// <summary>
    /// Loads every stage <paramref name="manifest"/> lists from <paramref name="folder"/> through the plugins'
    /// stage families. A missing or unreadable stage is refused naming the stage; nothing stays loaded.
    /// </summary>
    public static Cascade Load(ModelManifest manifest, string folder, int baseResolution, IEnumerable<ISuperResolutionFamily> families,
        Device device, ScalarType computeType)
    {
        var known = families.ToList();
        var stages = new List<(CascadeStageSpec, ISuperResolutionStage)>();
        try
        {
            int previous = baseResolution;
            foreach (var spec in manifest.Cascade)
            {
                string name = string.IsNullOrWhiteSpace(spec.Name) ? $"sr{spec.Resolution}" : spec.Name;
                var named = spec with { Name = name };
                if (spec.Resolution <= previous)
                    throw new UserException($"The model's cascade stage '{name}' draws {spec.Resolution} pixels after {previous}; each stage must enlarge the image.");
                var family = known.FirstOrDefault(f => string.Equals(f.Kind, spec.Kind, StringComparison.OrdinalIgnoreCase))
                    ?? throw new UserException($"No plugin provides the super-resolution stage '{spec.Kind}' of cascade stage '{name}' (available: {(known.Count == 0 ? "none" : string.Join(", ", known.Select(f => f.Kind)))}; see `plugins`).");
                string stageFolder = Path.GetFullPath(Path.Combine(folder, spec.Folder));
                if (!Directory.Exists(stageFolder))
                    throw new UserException($"The model's cascade stage '{name}' is missing: there is no folder '{stageFolder}'. Train it with `train --stage {name}` or remove it from model.json's cascade.");
                ISuperResolutionStage stage;
                try
                {
                    stage = family.Load(named, stageFolder);
                }
                catch (Exception e) when (e is FileNotFoundException or InvalidDataException or DirectoryNotFoundException)
                {
                    throw new UserException($"The model's cascade stage '{name}' cannot be loaded: {e.Message}", e);
                }
                stages.Add((named, stage));
                if (stage.InputResolution != previous)
                    throw new UserException($"The model's cascade stage '{name}' takes {stage.InputResolution}-pixel images, but the stage before it draws {previous}.");
                var network = stage.Network;
                network.Module.eval();
                if (computeType != ScalarType.Float32) network.Module.to(computeType);
                network.ComputeType = computeType;
                network.Module.to(device);
                previous = spec.Resolution;
            }
            return new Cascade(stages);
        }
        catch
        {
            foreach (var (_, stage) in stages) stage.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (_, stage) in _stages) stage.Dispose();
        _stages.Clear();
    }
}
