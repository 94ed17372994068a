using EDiffI.Conditioning;
using EDiffI.Diffusion;
using EDiffI.Networks;
using static TorchSharp.torch;

namespace EDiffI.Denoising;

/// <summary>
/// D(x; σ) = c_skip(σ) x + c_out(σ) F_θ(c_in(σ) x; c_noise(σ)) (Karras et al. 2022, Eq. 7, Table 1).
/// The network boundary: the coefficients are computed in the caller's dtype (float64 in samplers),
/// the network input is cast to the network's compute dtype, its output cast back; σ (float32) travels
/// to the network beside c_noise(σ). <paramref name="sigmaData"/> is the standard deviation of what the network learns
/// (EDM's 0.5 for images).
/// </summary>
public sealed class PreconditionedDenoiser(IEdmNetwork network, double sigmaData = Edm.SigmaData) : IDenoiser
{
    /// <summary>The wrapped network F_θ.</summary>
    public IEdmNetwork Network { get; } = network;

    /// <summary>σ_data of the preconditioning.</summary>
    public double SigmaData { get; } = sigmaData > 0 ? sigmaData : throw new ArgumentOutOfRangeException(nameof(sigmaData), sigmaData, "σ_data must be positive");

    /// <inheritdoc />
    public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning)
    {
        using var scope = NewDisposeScope();
        var s = sigma.to(x.dtype).view(-1, 1, 1, 1);
        var xIn = (Edm.CIn(s, SigmaData) * x).to(Network.ComputeType);
        var sigmaF = sigma.to(ScalarType.Float32).flatten();
        var f = Network.Forward(xIn, sigmaF, Edm.CNoise(sigmaF), conditioning).to(x.dtype);
        return (Edm.CSkip(s, SigmaData) * x).Plus(Edm.COut(s, SigmaData) * f).MoveToOuterDisposeScope(); // a held alpha (HeldScalars)
    }
}
