using System.Text.Json.Nodes;
using EDiffI.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>
/// Every parameter of a network laid out in one contiguous float32 buffer, with its gradient, its AdamW moments
/// and its EMA in buffers of the same layout, so that one training step's optimizer, gradient clipping and EMA
/// are a handful of kernels over a few million numbers instead of a dozen kernels per tensor (337 tensors in the
/// compact expert: thousands of launches and interop calls a step). The parameters stay the module's own
/// <see cref="Parameter"/> objects; their storage becomes a view of the flat buffer (as apex's and DeepSpeed's
/// flat optimizers do), and their <c>.grad</c> a view of the flat gradient, which autograd accumulates into in
/// place. The update is PyTorch's AdamW formula (decoupled weight decay, bias-corrected moments), and gradient
/// clipping that of <c>clip_grad_norm_</c>, computed on the device without reading the norm back.
/// </summary>
public sealed class FlatParameters : IDisposable
{
    private readonly List<(string Name, Parameter Param, long Offset, long[] Shape)> _layout = [];
    private readonly Tensor _values, _grads, _expAvg, _expAvgSq, _ema;
    private readonly double _beta1, _beta2, _epsilon, _weightDecay;

    /// <summary>Lays out <paramref name="parameters"/> (float32, on one device) in flat buffers.</summary>
    /// <exception cref="ArgumentException">A parameter is not float32, or they are not all on one device.</exception>
    public FlatParameters(IReadOnlyList<(string Name, Parameter Param)> parameters, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
    {
        if (parameters.Count == 0) throw new ArgumentException("no parameters to lay out", nameof(parameters));
        var device = parameters[0].Param.device;
        long total = 0;
        foreach (var (name, p) in parameters)
        {
            if (p.dtype != ScalarType.Float32) throw new ArgumentException($"parameter '{name}' is {p.dtype}; flat master weights are float32", nameof(parameters));
            if (p.device.ToString() != device.ToString()) throw new ArgumentException($"parameter '{name}' is on {p.device}, the others on {device}", nameof(parameters));
            _layout.Add((name, p, total, p.shape));
            total += p.numel();
        }
        Count = total;
        _beta1 = beta1;
        _beta2 = beta2;
        _epsilon = epsilon;
        _weightDecay = weightDecay;
        _values = empty(total, dtype: ScalarType.Float32, device: device);
        _grads = zeros(total, dtype: ScalarType.Float32, device: device);
        _expAvg = zeros(total, dtype: ScalarType.Float32, device: device);
        _expAvgSq = zeros(total, dtype: ScalarType.Float32, device: device);
        using var noGrad = no_grad();
        foreach (var (_, p, offset, shape) in _layout)
        {
            using var slot = View(_values, offset, shape);
            slot.copy_(p);
            p.set_(slot);
            p.grad = View(_grads, offset, shape);
        }
        _ema = _values.clone();
        Ema = _layout.ToDictionary(l => l.Name, l => View(_ema, l.Offset, l.Shape), StringComparer.Ordinal);
    }

    /// <summary>Numbers in each buffer (the parameter count).</summary>
    public long Count { get; }

    /// <summary>AdamW steps taken (the bias correction's t).</summary>
    public long Steps { get; private set; }

    /// <summary>The EMA of the weights by state-dict name: views of the flat EMA buffer, updated in place.</summary>
    public IReadOnlyDictionary<string, Tensor> Ema { get; }

    /// <summary>The flat gradient (what a data-parallel run all-reduces in one call).</summary>
    public Tensor Gradients => _grads;

    /// <summary>Sets every gradient to zero, in place (the views autograd accumulates into stay valid).</summary>
    public void ZeroGradients() => _grads.zero_();

    /// <summary>
    /// Scales the gradient down to a total L2 norm of at most <paramref name="maxNorm"/>, as <c>clip_grad_norm_</c>
    /// does (factor max / (norm + 1e-6), capped at 1), without reading the norm back to the host.
    /// </summary>
    public void ClipGradientNorm(double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // Every number an operation takes is a Scalar held in a using local until the operation returns: a temporary
        // one can be collected while libtorch still reads it (see HeldScalars).
        using Scalar epsilon = 1e-6, max = maxNorm;
        var factor = _grads.norm().add_(epsilon, HeldScalars.One).reciprocal_().mul_(max).clamp_max(HeldScalars.One);
        _grads.mul_(factor);
    }

    /// <summary>One AdamW step at learning rate <paramref name="learningRate"/> (PyTorch's formula, amsgrad off).</summary>
    public void Step(double learningRate)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Steps++;
        double correction1 = 1 - Math.Pow(_beta1, Steps), correction2 = 1 - Math.Pow(_beta2, Steps);
        using Scalar decay = 1 - learningRate * _weightDecay, beta1 = _beta1, beta2 = _beta2, rest1 = 1 - _beta1, rest2 = 1 - _beta2,
            root2 = Math.Sqrt(correction2), epsilon = _epsilon, stepSize = -learningRate / correction1; // held (see ClipGradientNorm)
        _values.mul_(decay);
        _expAvg.mul_(beta1).add_(_grads, rest1);
        _expAvgSq.mul_(beta2).addcmul_(_grads, _grads, rest2);
        var denominator = _expAvgSq.sqrt().div_(root2).add_(epsilon, HeldScalars.One);
        _values.addcdiv_(_expAvg, denominator, stepSize);
    }

    /// <summary>Moves the EMA towards the weights: ema ← decay·ema + (1 − decay)·weights.</summary>
    public void UpdateEma(double decay)
    {
        using var noGrad = no_grad();
        using Scalar keep = decay, take = 1 - decay; // held (see ClipGradientNorm)
        _ema.mul_(keep).add_(_values, take);
    }

    /// <summary>
    /// Adds the moments to <paramref name="tensors"/> in the checkpoint layout of <see cref="IO.AdamWCheckpoint"/>
    /// (<c>adam/{i}/exp_avg</c>, <c>adam/{i}/exp_avg_sq</c> per parameter) and returns the step counts, so a
    /// checkpoint reads the same whichever optimizer wrote it.
    /// </summary>
    public JsonArray Collect(IDictionary<string, Tensor> tensors)
    {
        var steps = new JsonArray();
        for (int i = 0; i < _layout.Count; i++)
        {
            var (_, _, offset, shape) = _layout[i];
            tensors[$"adam/{i}/exp_avg"] = View(_expAvg, offset, shape);
            tensors[$"adam/{i}/exp_avg_sq"] = View(_expAvgSq, offset, shape);
            steps.Add(Steps);
        }
        return steps;
    }

    /// <summary>Copies moments and the step count back from a checkpoint in that layout.</summary>
    /// <exception cref="InvalidDataException">The checkpoint holds state for another number of tensors, or steps that differ.</exception>
    /// <exception cref="KeyNotFoundException">A moment is missing.</exception>
    public void Restore(IReadOnlyDictionary<string, Tensor> tensors, JsonArray steps, string folder)
    {
        if (steps.Count != _layout.Count)
            throw new InvalidDataException($"The checkpoint in '{folder}' has optimizer state for {steps.Count} tensors, this model {_layout.Count}.");
        var counts = steps.Select(s => s!.GetValue<long>()).Distinct().ToList();
        if (counts.Count != 1)
            throw new InvalidDataException($"The checkpoint in '{folder}' has tensors at different optimizer steps ({string.Join(", ", counts)}); this trainer steps them together.");
        using var noGrad = no_grad();
        for (int i = 0; i < _layout.Count; i++)
        {
            var (_, _, offset, shape) = _layout[i];
            using (var m = View(_expAvg, offset, shape)) m.copy_(tensors[$"adam/{i}/exp_avg"]);
            using (var v = View(_expAvgSq, offset, shape)) v.copy_(tensors[$"adam/{i}/exp_avg_sq"]);
        }
        Steps = counts[0];
    }

    private static Tensor View(Tensor flat, long offset, long[] shape) =>
        flat.narrow(0, offset, shape.Aggregate(1L, (a, b) => a * b)).view(shape).DetachFromDisposeScope();

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in Ema.Values) t.Dispose();
        _values.Dispose();
        _grads.Dispose();
        _expAvg.Dispose();
        _expAvgSq.Dispose();
        _ema.Dispose();
    }
}
