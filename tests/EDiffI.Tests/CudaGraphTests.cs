using EDiffI.Conditioning;
using EDiffI.Denoising;
using static TorchSharp.torch;

namespace EDiffI.Tests;

/// <summary>
/// The CUDA graph wrapper off the GPU (<see cref="GraphedNetwork"/>): where no graph can run it is the wrapped network
/// exactly. Capture and replay themselves need a CUDA device and the native shim; `bench` checks them on the GPU
/// machine (replayed against eager, largest difference) and scripts/gpu/cascade-speed.sh times them.
/// </summary>
public class CudaGraphTests
{
    // F(x) = 2x + σ, counting its calls.
    private sealed class Doubling : IEdmNetwork
    {
        public int Calls;
        public ScalarType ComputeType => ScalarType.Float32;
        public Tensor Forward(Tensor xIn, Tensor sigma, Tensor cNoise, ConditioningInputs conditioning)
        {
            Calls++;
            return xIn * 2 + sigma.view(-1, 1, 1, 1);
        }
    }

    [Fact]
    public void OnTheCpuEveryEvaluationRunsEagerlyAndGivesTheWrappedNetworksNumbers()
    {
        var inner = new Doubling();
        using var graphed = CudaGraphs.Wrap(inner);
        using var x = randn(2, 3, 8, 8);
        using var sigma = tensor(new[] { 0.5f, 2f });
        var conditioning = new ConditioningInputs(ClipImage: randn(2, 4));
        using (no_grad())
            for (int i = 0; i < 3; i++)
            {
                using var y = graphed.Forward(x, sigma, sigma.log() / 4, conditioning);
                Assert.Equal(0, (y - (x * 2 + sigma.view(-1, 1, 1, 1))).abs().max().item<float>());
            }
        Assert.Equal(3, inner.Calls);
        Assert.Equal(0, graphed.Captures);
        Assert.Equal(0, graphed.Replays);
        Assert.Null(graphed.LastFailure);
        Assert.Same(inner, graphed.Inner);
        conditioning.DisposeExtras();
    }

    [Fact]
    public void WithoutTheShimTheReasonNamesTheBuildCommand()
    {
        string beside = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "ediffi_cudagraphs.dll" : "libediffi_cudagraphs.so");
        if (File.Exists(beside) || Environment.GetEnvironmentVariable(CudaGraphs.LibraryVariable) is { Length: > 0 }) return; // a CUDA machine with the shim built
        Assert.False(CudaGraphs.Available);
        Assert.Contains("native/cudagraphs/build.sh", CudaGraphs.UnavailableReason);
    }

    [Fact]
    public void DisposingTwiceIsHarmlessAndLeavesTheNetworkUsable()
    {
        var graphed = CudaGraphs.Wrap(new Doubling());
        graphed.Dispose();
        graphed.Dispose(); // twice is harmless
        using var x = zeros(1, 3, 4, 4);
        using var s = ones(1);
        // On the CPU the call never reaches the graphs, so it still runs: disposal frees graphs, not the network.
        using (no_grad()) using (var y = graphed.Forward(x, s, s, ConditioningInputs.Unconditional)) Assert.Equal(1f, y.max().item<float>());
    }
}
