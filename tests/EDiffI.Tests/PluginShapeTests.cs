using EDiffI.Attention;
using EDiffI.Data;
using EDiffI.Extensibility;
using EDiffI.Host.Composition;
using EDiffI.Host.Data;
using EDiffI.Host.Imaging;
using EDiffI.Host.Runtime;
using EDiffI.Plugins.PaintWithWords;
using EDiffI.Plugins.Sampling;
using EDiffI.Plugins.World;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>The plugins' registrations read their configuration sections; the host opens every data source by its scheme.</summary>
public class PluginShapeTests
{
    private static IConfiguration Settings(params (string Key, string Value)[] pairs) =>
        new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build();

    private static ServiceProvider Register(IPluginRegistration plugin, IConfiguration configuration)
    {
        var services = new ServiceCollection();
        plugin.Register(services, configuration);
        return services.BuildServiceProvider();
    }

    [Theory]
    [InlineData("Sampling:Heun:SChurn")]
    [InlineData("Samplers:Heun:SChurn")] // the key the README documented first
    public void HeunOptionsComeFromTheSamplingSectionOrTheOlderKey(string key)
    {
        using var provider = Register(new SamplingPlugin(), Settings((key, "7"), ("Sampling:Heun:STmin", "0.05")));
        var heun = provider.GetRequiredService<IOptions<HeunSamplerOptions>>().Value;
        Assert.Equal((7.0, 0.05, 1.0), (heun.SChurn, heun.STmin, heun.SNoise));
        Assert.Contains(provider.GetServices<EDiffI.Sampling.ISampler>(), s => s.Name == "heun");
    }

    [Fact]
    public void TheOlderHeunKeyWins()
    {
        using var provider = Register(new SamplingPlugin(), Settings(("Sampling:Heun:SChurn", "1"), ("Samplers:Heun:SChurn", "9")));
        Assert.Equal(9, provider.GetRequiredService<IOptions<HeunSamplerOptions>>().Value.SChurn);
    }

    [Fact]
    public void PaintWithWordsReadsItsWeighting()
    {
        using (var provider = Register(new PaintWithWordsPlugin(), Settings(("PaintWithWords:Weighting", "std"))))
            Assert.IsType<PaintWithWords>(provider.GetRequiredService<IPaintWithWords>());
        var e = Assert.Throws<ArgumentException>(() => Register(new PaintWithWordsPlugin(), Settings(("PaintWithWords:Weighting", "mean"))));
        Assert.Contains("PaintWithWords:Weighting 'mean'", e.Message);
    }

    [Fact]
    public void EverySourceIsOpenedByItsScheme()
    {
        var services = HostComposition.Services(Settings(), []);
        new WorldPlugin().Register(services, Settings());
        using var provider = services.BuildServiceProvider();
        var factories = provider.GetServices<IDatasetSourceFactory>().ToList();
        Assert.Equal(["folder", "cache", "world"], factories.Select(f => f.Scheme));

        using var folder = new TinyModel.TempFolder();
        using (var red = zeros(3, 20, 20)) ImageFiles.SavePng(red, Path.Combine(folder.Path, "a.png"));
        File.WriteAllText(Path.Combine(folder.Path, "a.txt"), "a black square");
        foreach (var name in new[] { folder.Path, "folder:" + folder.Path })
        {
            using var source = (IDisposable)DatasetSources.Open(name, 16, factories);
            Assert.Equal(1, Assert.IsType<ImageFolderDataset>(source).Count);
        }
        Assert.IsType<ProceduralWorld>(DatasetSources.Open("world:heldout,short", 16, factories));

        var cache = Assert.Throws<UserException>(() => DatasetSources.Open("cache:" + folder.Path, 16, factories));
        Assert.Contains("is not an embedding cache", cache.Message);
        var unknown = Assert.Throws<UserException>(() => DatasetSources.Open("nope:x", 16, factories));
        Assert.Contains("'nope:' (available: folder:, cache:, world:;", unknown.Message);
        var world = Assert.Throws<UserException>(() => DatasetSources.Open("world:valid", 16, factories));
        Assert.Contains("unknown world split 'valid'", world.Message);
    }
}
