using EDiffI.Encoders;
using EDiffI.Experts;
using EDiffI.Host.Runtime;
using EDiffI.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace EDiffI.Host.Pipeline;

/// <summary>A model's text and image encoders, built; disposing it disposes each.</summary>
/// <param name="T5">The T5 stream's encoder, or null.</param>
/// <param name="Clip">The CLIP text stream's encoder, or null.</param>
/// <param name="Image">The CLIP image stream's encoder, or null.</param>
public sealed record ModelEncoders(ITextEncoder? T5, ITextEncoder? Clip, IImageEncoder? Image) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        T5?.Dispose();
        Clip?.Dispose();
        Image?.Dispose();
    }
}

/// <summary>
/// The one place a model folder is assembled: manifest (an adapter's base resolved) → the kinds it names checked
/// against the plugins → networks (one, or the experts of an ensemble, with adapter slots and weights) →
/// expert placement → encoders. Everything plugin-specific (a network's files, an encoder's configuration, a
/// shape's resolution) is asked of the plugins through <see cref="ModelCatalog"/>; the loader reads only
/// <c>model.json</c>. Training writes model folders through <see cref="Write"/> and shapes new networks for
/// their encoders through <see cref="Widths"/>.
/// </summary>
public sealed class ModelLoader(ModelCatalog catalog)
{
    /// <summary>The plugins' network families, encoders, routers and placements.</summary>
    public ModelCatalog Catalog => catalog;

    /// <summary>
    /// Loads the model folder <paramref name="folder"/> onto <paramref name="device"/> in <paramref name="computeType"/>.
    /// <paramref name="placement"/> is "resident" (every expert on the device) or a mode of the placement plugin ("low-memory").
    /// </summary>
    /// <exception cref="UserException">Naming what is missing, unknown or unreadable; nothing stays loaded.</exception>
    public TextToImagePipeline Load(string folder, Device device, ScalarType computeType, string placement = "resident")
    {
        var (manifest, modelFolder, adapterFolder, ownAdapters) = Resolve(folder);
        CheckKinds(manifest, folder);
        var family = catalog.Family(manifest.Network);
        var networks = new List<INetwork>();
        ModelEncoders? encoders = null;
        try
        {
            IExpertRouter? router = null;
            if (manifest.Ensemble is { } ensemble)
            {
                router = catalog.CreateRouter(ensemble);
                foreach (var expert in ensemble.Experts)
                    networks.Add(LoadNetwork(family, Path.Combine(modelFolder, expert.Folder), $"expert '{expert.Name}'", manifest.Adapters));
                if (networks.Skip(1).Any(n => n.ConfigJson != networks[0].ConfigJson))
                    throw new UserException($"The experts of '{modelFolder}' have different network shapes; an ensemble's experts share one shape.");
            }
            else networks.Add(LoadNetwork(family, modelFolder, "network", manifest.Adapters));
            AdapterWeights.Load(adapterFolder, ownAdapters, networks, manifest.Ensemble?.Experts.Select(e => e.Name).ToList());
            encoders = CreateEncoders(manifest, modelFolder);
            var place = router is null ? null : Placement(placement, device);
            return new TextToImagePipeline(manifest, networks, router, place, encoders.T5, encoders.Clip, encoders.Image, device, computeType);
        }
        catch
        {
            foreach (var n in networks) n.Dispose();
            encoders?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The manifest a folder stands for, with the folder its networks and encoders are in: its own, or, for an
    /// adapter folder, its base's (the adapter adds its slots and keeps its sampling defaults). Also returns the
    /// folder holding the adapters' weights and the adapters whose weights are there.
    /// </summary>
    /// <exception cref="UserException">When a manifest is missing or unreadable, or a base is itself an adapter.</exception>
    public static (ModelManifest Manifest, string ModelFolder, string AdapterFolder, IReadOnlyList<AdapterSpec> OwnAdapters) Resolve(string folder)
    {
        var manifest = ModelManifest.Load(folder);
        if (manifest.Base is not { } baseName) return (manifest, folder, folder, manifest.Adapters);
        string baseFolder = Path.GetFullPath(Path.Combine(folder, baseName));
        var baseManifest = ModelManifest.Load(baseFolder);
        if (baseManifest.Base is not null) throw new UserException($"The base '{baseFolder}' of '{folder}' is itself an adapter; a base must be a full model.");
        return (baseManifest with
        {
            Adapters = [.. baseManifest.Adapters, .. manifest.Adapters],
            DefaultSteps = manifest.DefaultSteps, DefaultGuidance = manifest.DefaultGuidance,
        }, baseFolder, folder, manifest.Adapters);
    }

    /// <summary>
    /// Refuses, before anything is loaded, a manifest naming a network, encoder or router no plugin provides,
    /// with one message naming the file, the stream and what is available.
    /// </summary>
    /// <exception cref="UserException">For the first unknown kind.</exception>
    public void CheckKinds(ModelManifest manifest, string folder)
    {
        string file = Path.Combine(folder, ModelManifest.FileName);
        catalog.Family(manifest.Network);
        foreach (var (stream, spec) in new[] { ("T5", manifest.T5), ("CLIP text", manifest.ClipText) })
            if (spec is not null && !catalog.HasTextEncoder(spec.Kind))
                throw new UserException($"'{file}' names the text encoder '{spec.Kind}' for the {stream} stream, but no plugin provides it " +
                                        $"(text encoders: {catalog.TextEncoderNames}; `plugins` lists what each plugin provides).");
        if (manifest.ClipImage is { } image && !catalog.HasImageEncoder(image.Kind))
            throw new UserException($"'{file}' names the image encoder '{image.Kind}' for the CLIP image stream, but no plugin provides it " +
                                    $"(image encoders: {catalog.ImageEncoderNames}; `plugins` lists what each plugin provides).");
        if (manifest.Ensemble is { } ensemble && !catalog.HasRouter(ensemble.Router))
            catalog.CreateRouter(ensemble); // throws naming the router and the ones available
    }

    /// <summary>Builds every encoder <paramref name="manifest"/> names; relative paths resolve against <paramref name="modelFolder"/>.</summary>
    /// <exception cref="UserException">When an encoder is unknown or cannot be loaded; none stays built.</exception>
    public ModelEncoders CreateEncoders(ModelManifest manifest, string? modelFolder)
    {
        ITextEncoder? t5 = null, clip = null;
        try
        {
            t5 = manifest.T5 is null ? null : catalog.CreateEncoder(manifest.T5, modelFolder);
            clip = manifest.ClipText is null ? null : catalog.CreateEncoder(manifest.ClipText, modelFolder);
            var image = manifest.ClipImage is null ? null : catalog.CreateImageEncoder(manifest.ClipImage, modelFolder);
            return new ModelEncoders(t5, clip, image);
        }
        catch
        {
            t5?.Dispose();
            clip?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The stream widths a network needs for the encoders <paramref name="manifest"/> names (0 for a stream it lacks),
    /// asked of the encoder plugins from their configurations; no weights are loaded.
    /// </summary>
    public ConditioningWidths Widths(ModelManifest manifest, string? modelFolder)
    {
        var t5 = manifest.T5 is null ? null : catalog.DescribeEncoder(manifest.T5, modelFolder);
        var clip = manifest.ClipText is null ? null : catalog.DescribeEncoder(manifest.ClipText, modelFolder);
        int image = manifest.ClipImage is null ? 0 : catalog.DescribeImageEncoder(manifest.ClipImage, modelFolder);
        return new ConditioningWidths(t5?.Dimension ?? 0, clip?.Dimension ?? 0, clip?.PooledDimension ?? 0, image);
    }

    /// <summary>
    /// Writes <paramref name="network"/> and <paramref name="manifest"/> as the model folder <paramref name="folder"/>.
    /// Encoders named by absolute path travel with the model: their folders are copied in once (T5's as <c>t5</c>,
    /// the CLIP streams' as <c>clip</c>) and named relative to it. Returns the manifest as written.
    /// </summary>
    public static ModelManifest Write(string folder, ModelManifest manifest, INetwork network, ScalarType? dtype = null)
    {
        network.Save(folder, dtype);
        var written = manifest with
        {
            T5 = manifest.T5 is { Path: string t5 } s5 ? s5 with { Path = BringIn(t5, folder, "t5") } : manifest.T5,
            ClipText = manifest.ClipText is { Path: string c } sc ? sc with { Path = BringIn(c, folder, "clip") } : manifest.ClipText,
            ClipImage = manifest.ClipImage is { Path: string i } si ? si with { Path = BringIn(i, folder, "clip") } : manifest.ClipImage,
        };
        written.Save(folder);
        return written;
    }

    private static string BringIn(string path, string modelFolder, string name)
    {
        if (!Path.IsPathRooted(path)) return path;
        string target = Path.Combine(modelFolder, name);
        if (!Directory.Exists(target)) CopyFolder(path, target);
        return name;
    }

    /// <summary>Copies <paramref name="from"/> into <paramref name="to"/> with every subfolder, replacing files that are there.</summary>
    internal static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        foreach (var dir in Directory.GetDirectories(from)) CopyFolder(dir, Path.Combine(to, Path.GetFileName(dir)));
    }

    private Func<IReadOnlyList<nn.Module>, IExpertPlacement>? Placement(string placement, Device device)
    {
        if (placement == "resident") return null;
        var factory = catalog.Placements ?? throw new UserException("No plugin provides expert placements; only the resident mode is available.");
        if (!factory.Modes.Contains(placement))
            throw new UserException($"Unknown expert placement '{placement}' (known: {string.Join(", ", factory.Modes)}).");
        return modules => factory.Create(placement, modules, device);
    }

    private static INetwork LoadNetwork(INetworkFamily family, string folder, string what, IReadOnlyList<AdapterSpec> adapters)
    {
        try
        {
            return adapters.Count == 0 ? family.Load(folder) : family.LoadWithSlots(folder, adapters.ToDictionary(a => a.Name, a => a.Slot));
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or DirectoryNotFoundException)
        {
            throw new UserException($"The model's {what} cannot be loaded: {e.Message}", e);
        }
    }
}
