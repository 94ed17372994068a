using EDiffI.Diffusion;
using static TorchSharp.torch;

namespace EDiffI.Tests;

public class EdmTests
{
    private static readonly double[] Sigmas = [0.002, 0.05, 0.5, 1, 3.7, 20, 80];

    private static double Eval(Func<Tensor, Tensor> f, double sigma)
    {
        using var s = tensor(sigma, ScalarType.Float64);
        using var r = f(s);
        return r.item<double>();
    }

    [Fact]
    public void PreconditioningMatchesTable1()
    {
        const double sd = 0.5;
        foreach (double s in Sigmas)
        {
            Assert.Equal(sd * sd / (s * s + sd * sd), Eval(t => Edm.CSkip(t), s), 12);
            Assert.Equal(s * sd / Math.Sqrt(s * s + sd * sd), Eval(t => Edm.COut(t), s), 12);
            Assert.Equal(1 / Math.Sqrt(s * s + sd * sd), Eval(t => Edm.CIn(t), s), 12);
            Assert.Equal(Math.Log(s) / 4, Eval(Edm.CNoise, s), 12);
        }
    }

    [Fact]
    public void LossWeightTimesCOutSquaredIsOne()
    {
        foreach (double s in Sigmas.Concat([1e-3, 0.3, 150.0]))
        {
            double w = Eval(t => Edm.LossWeight(t), s), c = Eval(t => Edm.COut(t), s);
            Assert.Equal(1.0, w * c * c, 10);
        }
    }

    [Fact]
    public void KarrasScheduleFollowsEquation5()
    {
        var sigmas = Edm.KarrasSigmas(18);
        Assert.Equal(19, sigmas.Length);
        Assert.Equal(80, sigmas[0], 10);
        Assert.Equal(0.002, sigmas[17], 12);
        Assert.Equal(0, sigmas[18]);
        for (int i = 1; i < sigmas.Length; i++) Assert.True(sigmas[i] < sigmas[i - 1]);
        // The middle step by hand: (80^(1/7) + 0.5 (0.002^(1/7) − 80^(1/7)))^7 lies between steps 8 and 9 of 18.
        var odd = Edm.KarrasSigmas(3);
        double mid = Math.Pow(Math.Pow(80, 1 / 7.0) + 0.5 * (Math.Pow(0.002, 1 / 7.0) - Math.Pow(80, 1 / 7.0)), 7);
        Assert.Equal(mid, odd[1], 12);
    }

    [Fact]
    public void TrainingSigmaIsLogNormal()
    {
        using var g = new Generator(7);
        using var sigma = Edm.SampleTrainingSigma(200_000, -1.2, 1.2, g, CPU);
        using var log = sigma.log();
        Assert.Equal(-1.2, log.mean().item<float>(), 1);
        Assert.Equal(1.2, log.std().item<float>(), 1);
    }

    [Fact]
    public void KarrasScheduleRejectsNonsense()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Edm.KarrasSigmas(0));
        Assert.Throws<ArgumentException>(() => Edm.KarrasSigmas(10, sigmaMin: 5, sigmaMax: 1));
    }
}
