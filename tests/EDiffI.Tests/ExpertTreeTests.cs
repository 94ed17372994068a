using EDiffI.Conditioning;
using EDiffI.Diffusion;
using EDiffI.Experts;
using EDiffI.Host.Pipeline;
using EDiffI.Host.Runtime;
using EDiffI.Host.Training;
using EDiffI.Plugins.Experts;
using EDiffI.Plugins.UNet;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>eDiff-I's noise-level tree, the σ router and ensemble manifests (issue 5).</summary>
public class ExpertTreeTests
{
    private const double PMean = -1.2, PStd = 1.2;

    /// <summary>Log-normal mass of p(σ) between two σ, by Simpson's rule on the density of ln σ (independent of ndtr/ndtri).</summary>
    private static double Mass(double sigmaLow, double sigmaHigh)
    {
        double a = sigmaLow <= 0 ? PMean - 12 * PStd : Math.Log(sigmaLow);
        double b = double.IsPositiveInfinity(sigmaHigh) ? PMean + 12 * PStd : Math.Log(sigmaHigh);
        const int n = 20_000;
        double h = (b - a) / n, sum = 0;
        for (int i = 0; i <= n; i++)
        {
            double z = (a + i * h - PMean) / PStd;
            double f = Math.Exp(-0.5 * z * z) / (PStd * Math.Sqrt(2 * Math.PI));
            sum += f * (i == 0 || i == n ? 1 : i % 2 == 1 ? 4 : 2);
        }
        return sum * h / 3;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void IntervalsSplitTheLogNormalIntoEqualMasses(int level)
    {
        int count = 1 << level;
        for (int i = 0; i < count; i++)
        {
            var node = new TreeNode { Name = "n", Level = level, Index = i };
            var sigma = node.Quantiles()[0].ToSigma(PMean, PStd);
            Assert.Equal(1.0 / count, Mass(sigma.Low, sigma.High), 6);
        }
        // Level 1 splits at the median of p(σ), exp(P_mean).
        Assert.Equal(Math.Exp(PMean), Edm.SigmaAtQuantile(0.5, PMean, PStd), 10);
        Assert.Equal(0.5, Edm.QuantileOfSigma(Math.Exp(PMean), PMean, PStd), 12);
    }

    [Fact]
    public void NodeSamplesStayInTheirIntervalAndComplementSamplesNeverFallInIt()
    {
        using var generator = new Generator(7);
        var node = new TreeNode { Name = "n", Level = 2, Index = 1 };
        var sigma = node.Quantiles()[0].ToSigma(PMean, PStd);
        using var inside = Edm.SampleTrainingSigma(20_000, node.Quantiles().Select(q => (q.Low, q.High)).ToList(), PMean, PStd, generator, CPU);
        Assert.True((inside >= sigma.Low * (1 - 1e-6)).all().item<bool>() && (inside < sigma.High * (1 + 1e-6)).all().item<bool>());
        // Inside the interval the samples follow p(σ): the median of the truncated distribution is the interval's mid-quantile.
        double median = inside.to(ScalarType.Float64).median().item<double>();
        Assert.Equal(0.375, Edm.QuantileOfSigma(median, PMean, PStd), 2);

        var complement = node with { Complement = true };
        using var outside = Edm.SampleTrainingSigma(20_000, complement.Quantiles().Select(q => (q.Low, q.High)).ToList(), PMean, PStd, generator, CPU);
        Assert.False((outside >= sigma.Low).logical_and(outside < sigma.High).any().item<bool>());
        // Both sides of the hole get their share: 1/4 below, 2/4 above, out of 3/4.
        double below = (outside < sigma.Low).to(ScalarType.Float64).mean().item<double>();
        Assert.Equal(1.0 / 3, below, 1);
    }

    [Fact]
    public void RouterPicksTheRightExpertAtEveryBoundary()
    {
        var schedule = ThreeExpertSchedule();
        var spec = schedule.Ensemble("three");
        var router = new SigmaIntervalRouter(spec);
        var intervals = spec.SigmaIntervals();
        Assert.Equal(3, router.ExpertCount);
        for (int e = 0; e < 3; e++)
            foreach (var interval in intervals[e])
            {
                if (interval.Low > 0)
                {
                    Assert.Equal(e, router.Route(interval.Low));                              // closed below
                    Assert.NotEqual(e, router.Route(Math.BitDecrement(interval.Low)));        // just under belongs to the neighbour
                }
                if (!double.IsPositiveInfinity(interval.High)) Assert.Equal(e, router.Route(Math.BitDecrement(interval.High)));
            }
        Assert.Equal(0, router.Route(0.002));
        Assert.Equal(2, router.Route(80));
        Assert.Equal(2, router.Route(double.PositiveInfinity));

        // Leaf plus complement: the complement serves both sides of the leaf.
        var leafAndComplement = new SigmaIntervalRouter(schedule.Ensemble("leaf-complement"));
        var middle = schedule.Node("middle").Quantiles()[0].ToSigma(PMean, PStd);
        Assert.Equal(0, leafAndComplement.Route(Math.Sqrt(middle.Low * middle.High)));
        Assert.Equal(1, leafAndComplement.Route(middle.Low / 2));
        Assert.Equal(1, leafAndComplement.Route(middle.High * 2));
    }

    [Fact]
    public void SchedulesWithGapsOverlapsOrOrphansAreRefusedWithEveryProblem()
    {
        using var folder = new TinyModel.TempFolder();
        string path = Path.Combine(folder.Path, "tree.json");
        File.WriteAllText(path, """
            { "nodes": [
                { "name": "base", "level": 0, "index": 0, "iterations": 1 },
                { "name": "low", "level": 2, "index": 0, "parent": "base", "iterations": 1 },
                { "name": "high", "level": 1, "index": 1, "parent": "nobody", "iterations": 1 },
                { "name": "odd", "level": 1, "index": 5, "parent": "base", "iterations": 1 } ],
              "ensembles": { "gap": [ "low", "high" ], "overlap": [ "base", "high" ] } }
            """);
        var e = Assert.Throws<InvalidDataException>(() => BranchingSchedule.Load(path));
        Assert.Contains("parent 'nobody' that does not exist", e.Message);
        Assert.Contains("index 5 is outside 0–1", e.Message);
        Assert.Contains("ensemble 'gap': no expert serves quantiles [0.25, 0.5)", e.Message);
        Assert.Contains("ensemble 'overlap': two experts serve", e.Message);
        foreach (var file in Directory.GetFiles(Path.Combine(TinyModel.RepositoryRoot, "configs", "trees"), "*.json"))
            Assert.NotNull(BranchingSchedule.Load(file));
    }

    [Fact]
    public void TheFigure7ScheduleGivesEveryEnsembleTheSameTrainingSamples()
    {
        // Iterations of an ensemble's lineage: its experts' and each ancestor's once (the shared base counts once).
        var schedule = BranchingSchedule.Load(Path.Combine(TinyModel.RepositoryRoot, "configs", "trees", "figure7.json"));
        long Lineage(IEnumerable<string> members)
        {
            var nodes = new HashSet<string>();
            foreach (var m in members)
                for (var n = schedule.Node(m); ; n = schedule.Node(n.Parent))
                {
                    nodes.Add(n.Name);
                    if (n.Parent is null) break;
                }
            return nodes.Sum(n => schedule.Node(n).Iterations);
        }
        var totals = schedule.Ensembles.ToDictionary(e => e.Key, e => Lineage(e.Value));
        Assert.Equal(["baseline", "three-experts", "two-experts"], totals.Keys.Order());
        Assert.All(totals, t => Assert.Equal(1800L, t.Value));
    }

    [Fact]
    public void EnsembleManifestRoundTripsAndAMissingExpertIsRefused()
    {
        using var folder = new TinyModel.TempFolder();
        var spec = ThreeExpertSchedule().Ensemble("three");
        foreach (var expert in spec.Experts)
        {
            using var net = new EDiffIUNet(TinyModel.Config);
            UNetFiles.Save(net, Path.Combine(folder.Path, expert.Folder));
        }
        var manifest = new ModelManifest { T5 = new() { Dimension = 32 }, ClipText = new() { Dimension = 32, Seed = 2 }, Ensemble = spec };
        manifest.Save(folder.Path);
        var loaded = ModelManifest.Load(folder.Path);
        Assert.Equal(spec.Experts.Select(e => (e.Name, e.Folder)), loaded.Ensemble!.Experts.Select(e => (e.Name, e.Folder)));
        Assert.Equal(spec.Experts.SelectMany(e => e.Quantiles), loaded.Ensemble.Experts.SelectMany(e => e.Quantiles));
        using (var pipeline = TextToImagePipeline.Load(folder.Path, TinyModel.Catalog, CPU, ScalarType.Float32))
            Assert.Equal(3, pipeline.Networks.Count);

        File.Delete(Path.Combine(folder.Path, "middle", "unet.safetensors"));
        var e = Assert.Throws<UserException>(() => TextToImagePipeline.Load(folder.Path, TinyModel.Catalog, CPU, ScalarType.Float32));
        Assert.Contains("expert 'middle'", e.Message);
    }

    [Fact]
    public void LowMemoryPlacementDrawsTheSameImagesAsResidentExperts()
    {
        using var folder = new TinyModel.TempFolder();
        var spec = ThreeExpertSchedule().Ensemble("three");
        manual_seed(3);
        foreach (var expert in spec.Experts)
        {
            using var net = new EDiffIUNet(TinyModel.Config);
            using (no_grad()) foreach (var p in net.parameters()) p.add_(randn_like(p) * 0.05);
            UNetFiles.Save(net, Path.Combine(folder.Path, expert.Folder));
        }
        new ModelManifest { T5 = new() { Dimension = 32 }, ClipText = new() { Dimension = 32, Seed = 2 }, Ensemble = spec }.Save(folder.Path);
        var sampler = new EDiffI.Plugins.Sampling.HeunSampler();
        var schedule = new EDiffI.Sampling.KarrasSchedule();
        using var resident = TextToImagePipeline.Load(folder.Path, TinyModel.Catalog, CPU, ScalarType.Float32);
        using var lowMemory = TextToImagePipeline.Load(folder.Path, TinyModel.Catalog, CPU, ScalarType.Float32, "low-memory");
        using var a = resident.Generate(new GenerationRequest("red stripes", 5, 12, 2.0), sampler, schedule);
        using var b = lowMemory.Generate(new GenerationRequest("red stripes", 5, 12, 2.0), sampler, schedule);
        Assert.True(a.equal(b).all().item<bool>());
        var placement = Assert.IsType<LowMemoryPlacement>(lowMemory.Placement);
        // 12 steps visit every expert; along a decreasing schedule each is moved in once: high → middle → low.
        var router = new SigmaIntervalRouter(spec);
        Assert.Equal(3, schedule.Sigmas(12).Where(x => x > 0).Select(router.Route).Distinct().Count());
        Assert.Equal(3, placement.Switches);
    }

    [Fact]
    public void CheckpointShardsStayUnder16MiB()
    {
        using var folder = new TinyModel.TempFolder();
        var tensors = new Dictionary<string, Tensor>();
        for (int i = 0; i < 5; i++) tensors[$"t{i}"] = full(new long[] { 2_500_000 }, (float)i); // 10 MB each
        string dir = Checkpoint.Save(folder.Path, 1, tensors, new System.Text.Json.Nodes.JsonObject(), 1);
        var files = Directory.GetFiles(dir, "state-*.safetensors");
        Assert.True(files.Length >= 4);
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= Checkpoint.MaxFileBytes, f));
        var (loaded, _) = Checkpoint.Load(dir);
        for (int i = 0; i < 5; i++) Assert.True(loaded[$"t{i}"].equal(tensors[$"t{i}"]).all().item<bool>());
    }

    private static BranchingSchedule ThreeExpertSchedule() => new()
    {
        PMean = PMean, PStd = PStd,
        Nodes =
        [
            new() { Name = "base", Iterations = 1 },
            new() { Name = "lowest", Level = 2, Index = 0, Parent = "base", Iterations = 1 },
            new() { Name = "middle", Level = 2, Index = 1, LastIndex = 2, Parent = "base", Iterations = 1 },
            new() { Name = "highest", Level = 2, Index = 3, Parent = "base", Iterations = 1 },
            new() { Name = "not-middle", Level = 2, Index = 1, LastIndex = 2, Complement = true, Parent = "base", Iterations = 1 },
        ],
        Ensembles = new() { ["three"] = ["lowest", "middle", "highest"], ["leaf-complement"] = ["middle", "not-middle"] },
    };
}
