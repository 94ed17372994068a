using EDiffI.Conditioning;
using EDiffI.Networks;
using EDiffI.SuperResolution;
using static TorchSharp.torch;

namespace EDiffI.Plugins.SuperResolution;

/// <summary>
/// Builds, loads and trains "ediffi-sr" stages. The network is a U-Net of a network family another plugin provides
/// (by default "ediffi-unet", whose sr256 and sr1024 shapes follow the Efficient U-Net), with the stage's
/// <see cref="SuperResolutionStage.StreamName"/> slot.
/// </summary>
public sealed class SuperResolutionFamily(IEnumerable<INetworkFamily> networks) : ISuperResolutionFamily
{
    /// <summary>The kind model.json's cascade entries name.</summary>
    public const string FamilyKind = "ediffi-sr";

    /// <summary>The network family stages are built with unless their stage.json names another.</summary>
    public const string DefaultNetwork = "ediffi-unet";

    private readonly List<INetworkFamily> _networks = networks.ToList();

    /// <inheritdoc />
    public string Kind => FamilyKind;

    /// <inheritdoc />
    public IReadOnlyList<string> Presets => NetworkFamily(DefaultNetwork).Presets.Where(p => p.StartsWith("sr", StringComparison.Ordinal)).ToList();

    /// <inheritdoc />
    public ISuperResolutionStage Create(string name, string preset, int inputResolution, int outputResolution, ConditioningWidths text,
        StageTarget? target = null)
    {
        if (target?.Problem() is { } problem) throw new ArgumentException(problem);
        var widths = text with { Streams = new Dictionary<string, ConditionerSlot> { [SuperResolutionStage.StreamName] = SuperResolutionStage.Slot } };
        var network = NetworkFamily(DefaultNetwork).Create(preset, outputResolution, widths);
        try
        {
            return new SuperResolutionStage(name, network, inputResolution, target);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public ISuperResolutionStage Load(CascadeStageSpec spec, string folder)
    {
        var file = StageFile.Load(folder);
        if (file.OutputResolution != spec.Resolution)
            throw new InvalidDataException($"stage '{spec.Name}' in '{folder}' draws {file.OutputResolution}-pixel images, model.json says {spec.Resolution}");
        var network = NetworkFamily(file.Network).Load(folder);
        try
        {
            if (network.Resolution != file.OutputResolution)
                throw new InvalidDataException($"the network of stage '{spec.Name}' is built for {network.Resolution} pixels, {StageFile.FileName} says {file.OutputResolution}");
            return new SuperResolutionStage(spec.Name, network, file.InputResolution, new StageTarget(file.Residual, file.SigmaData));
        }
        catch (ArgumentException e)
        {
            network.Dispose();
            throw new InvalidDataException(e.Message, e);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Save(ISuperResolutionStage stage, string folder, ScalarType? dtype = null, IReadOnlyDictionary<string, Tensor>? weights = null,
        StageTraining? training = null)
    {
        Directory.CreateDirectory(folder);
        if (weights is null) stage.Network.Save(folder, dtype);
        else
        {
            using var copy = NetworkFamily(stage.Network.Kind).FromConfig(stage.Network.ConfigJson);
            EDiffI.IO.SafeTensorsWeights.LoadInto(copy.Module, weights, "the stage's weights");
            copy.Save(folder, dtype);
        }
        new StageFile
        {
            Network = stage.Network.Kind, InputResolution = stage.InputResolution, OutputResolution = stage.OutputResolution,
            TrainingCrop = training?.Crop ?? 0, TrainedSteps = training?.Steps ?? 0, Degradation = training?.Degradation,
            History = training?.Earlier is { Count: > 0 } earlier ? earlier : null,
            Residual = stage.Target.Residual, SigmaData = stage.Target.SigmaData,
        }.Save(folder);
    }

    /// <inheritdoc />
    public StageTrainingInput TrainingStream(ISuperResolutionStage stage, Tensor highResolution, Tensor? lowResolution, Generator generator,
        DegradationOptions degradation)
    {
        using var scope = NewDisposeScope();
        int factor = stage.OutputResolution / stage.InputResolution;
        var low = Degradation.Apply(highResolution, lowResolution, factor, generator, degradation);
        long b = highResolution.shape[0];
        var sigma = rand(b, generator: generator) * degradation.AugmentationMax;
        var zero = rand(b, generator: generator) < degradation.AugmentationZero;
        sigma = where(zero, zeros_like(sigma), sigma);
        var noise = randn(highResolution.shape, dtype: ScalarType.Float32, generator: generator).to(highResolution.device);
        var stream = stage.LowResolutionStream(low, sigma, noise);
        // A residual stage learns the detail over the upsampling of the clean (degraded, not yet noise-augmented) input,
        // the image its denoiser adds the detail to at inference.
        var target = stage.Target.Residual
            ? highResolution - Tiling.Bicubic(low.to(ScalarType.Float32), highResolution.shape[2], highResolution.shape[3], TileAxes.None).to(highResolution.dtype)
            : highResolution.alias();
        return new StageTrainingInput(new ConditioningStream(Pooled: stream.Pooled!.MoveToOuterDisposeScope(), Spatial: stream.Spatial!.MoveToOuterDisposeScope()),
            target.MoveToOuterDisposeScope());
    }

    private INetworkFamily NetworkFamily(string kind) =>
        _networks.FirstOrDefault(f => string.Equals(f.Kind, kind, StringComparison.OrdinalIgnoreCase))
        ?? throw new InvalidDataException($"no plugin provides the network '{kind}' a super-resolution stage needs (see `plugins`)");
}
