using EDiffI.Conditioning;
using EDiffI.Denoising;
using EDiffI.Sampling;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EDiffI.Host.Pipeline;

/// <summary>
/// How one stage's sampling starts from or keeps part of an existing image: SDEdit (Meng et al. 2022) starts the ODE
/// from the init noised to the σ that the strength selects on the schedule; inpainting keeps the unmasked region on the
/// init's trajectory at every step (the denoised estimate there is the init, so x there is exactly init + σ·ε, as
/// RePaint's replacement with the init noised to the current σ) and pastes it back exactly at the end.
/// </summary>
/// <param name="Init">[B, 3, S, S] in [−1, 1] at the stage's resolution; null for none.</param>
/// <param name="Mask">[B, 1, S, S] in [0, 1], 1 where the image is regenerated; null to keep nothing.</param>
/// <param name="Strength">SDEdit strength: 0 returns the init, 1 runs the whole schedule.</param>
internal sealed record StageEdit(Tensor? Init, Tensor? Mask, double Strength)
{
    /// <summary>RePaint's r: times each piece of the schedule runs when inpainting (1: once, no resampling).</summary>
    public int Resample { get; init; } = 1;

    /// <summary>RePaint's j: steps per resampled piece; 0 for an eighth of the schedule's steps.</summary>
    public int JumpLength { get; init; }

    /// <summary>Steps per piece for a schedule of <paramref name="steps"/> steps.</summary>
    public static int JumpOf(int jumpLength, int steps) => jumpLength > 0 ? Math.Min(jumpLength, steps) : Math.Max(1, steps / 8);

    /// <summary>
    /// Samples <paramref name="request"/> under this edit: the sampler once over the whole schedule, or, inpainting with
    /// <see cref="Resample"/> above 1 (RePaint, Lugmayr et al. 2022, Algorithm 1 with jumps), piece by piece: each piece
    /// of j steps is sampled r times, x noised back from the piece's last σ to its first between the runs
    /// (x + √(σ_first² − σ_last²)·ε), so the kept region's information spreads into the regenerated one. The noise of the
    /// jumps comes from <paramref name="seed"/>. Progress counts every step run, r·N in all.
    /// </summary>
    public Tensor Sample(ISampler sampler, IDenoiser denoiser, SamplingRequest request, long seed)
    {
        var sigmas = request.Sigmas;
        int n = sigmas.Count - 1;
        if (Mask is null || Resample <= 1 || n < 1) return sampler.Sample(denoiser, request);
        int jump = JumpOf(JumpLength, n), total = Resample * n, done = 0;
        using var generator = new Generator(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + 0x52455041UL)); // "REPA"
        Tensor? x = null;
        for (int first = 0; first < n; first += jump)
        {
            int last = Math.Min(n, first + jump);
            var piece = sigmas.Skip(first).Take(last - first + 1).ToArray();
            for (int run = 0; run < Resample; run++)
            {
                int offset = done;
                SamplerCallback? callback = request.Callback is not { } outer ? null
                    : (in SamplerStep step) => outer(step with { Index = offset + step.Index, Count = total });
                Tensor next;
                using (var unit = x is null ? request.Noise.alias() : x / piece[0]) // the sampler multiplies its noise by σ_0
                    next = sampler.Sample(denoiser, request with { Noise = unit, Sigmas = piece, Callback = callback });
                done += piece.Length - 1;
                x?.Dispose();
                if (run < Resample - 1)
                {
                    using var eps = randn(next.shape, ScalarType.Float64, generator: generator).to(next.device);
                    using var moved = next;
                    next = moved + Math.Sqrt(piece[0] * piece[0] - piece[^1] * piece[^1]) * eps;
                }
                x = next;
            }
        }
        return x!;
    }

    /// <summary>
    /// One stage's sampling under an optional <paramref name="edit"/>, the same for the base and every super-resolution
    /// stage: the schedule cut by the strength (strength 0 returns the init), the start (the init noised to σ_0 for img2img;
    /// <paramref name="plainStart"/>, when given, for no init or an inpainting mask, else unit noise), the denoiser that keeps
    /// the unmasked region, RePaint's resampling, and the init pasted back. Returns [B, 3, S, S] in [−1, 1], float32, on the CPU.
    /// </summary>
    /// <param name="unitNoise">The sampler's unit noise (it multiplies it by σ_0).</param>
    /// <param name="plainStart">(unit noise, σ_0) → the unit noise of a start without the init's (a stage that starts from its
    /// upsampled input); null starts from the noise (or, inpainting, from the init like img2img).</param>
    /// <param name="seed">The noise of RePaint's jumps.</param>
    public static Tensor SampleStage(StageEdit? edit, ISampler sampler, IDenoiser denoiser, Tensor unitNoise, double[] sigmas, ConditioningInputs conditioning,
        SamplerCallback? callback, long seed, Func<Tensor, double, Tensor>? plainStart = null, CancellationToken cancellationToken = default)
    {
        if (edit is not null && edit.ReturnsInit(sigmas)) return edit.Init!.to(ScalarType.Float32).cpu();
        if (edit is not null) sigmas = edit.Schedule(sigmas);
        var noise = unitNoise;
        if (edit?.Init is not null && (edit.Mask is null || plainStart is null)) noise = edit.StartNoise(noise, sigmas[0]);
        else if (plainStart is not null && sigmas[0] > 0) noise = plainStart(noise, sigmas[0]);
        var request = new SamplingRequest(noise, sigmas, conditioning, Callback: callback, CancellationToken: cancellationToken);
        var samples = edit is null ? sampler.Sample(denoiser, request) : edit.Paste(edit.Sample(sampler, edit.Constrain(denoiser), request, seed));
        return samples.clamp(-1, 1).to(ScalarType.Float32).cpu();
    }

    /// <summary>Whether this edit's stage just returns the init (strength 0: the cut schedule of <paramref name="sigmas"/> starts at σ = 0).</summary>
    public bool ReturnsInit(double[] sigmas) => Init is not null && Schedule(sigmas)[0] <= 0;

    /// <summary>The σ schedule this edit runs: the tail from index round((1 − strength)·N) when there is an init.</summary>
    public double[] Schedule(double[] sigmas)
    {
        if (Init is null || Strength >= 1) return sigmas;
        int steps = sigmas.Length - 1; // the schedule ends with σ = 0
        int start = (int)Math.Round((1 - Math.Clamp(Strength, 0, 1)) * steps);
        return sigmas[start..];
    }

    /// <summary>The sampler's unit noise for a start at σ_0 from the init: ε + init/σ_0 (the sampler multiplies by σ_0).</summary>
    public Tensor StartNoise(Tensor noise, double sigma0) =>
        Init is null || sigma0 <= 0 ? noise : noise + Init.to(noise.dtype, noise.device) / sigma0;

    /// <summary>The denoiser that keeps the unmasked region: D′ = m·D + (1 − m)·init.</summary>
    public IDenoiser Constrain(IDenoiser inner) => Init is null || Mask is null ? inner : new KeepUnmasked(inner, Init, Mask);

    /// <summary>The final image: the regenerated region from <paramref name="samples"/>, the rest exactly the init.</summary>
    public Tensor Paste(Tensor samples)
    {
        if (Init is null || Mask is null) return samples;
        var m = Mask.to(samples.dtype, samples.device);
        return m * samples + (1 - m) * Init.to(samples.dtype, samples.device);
    }

    private sealed class KeepUnmasked(IDenoiser inner, Tensor init, Tensor mask) : IDenoiser
    {
        public Tensor Denoise(Tensor x, Tensor sigma, ConditioningInputs conditioning) => Keep(inner.Denoise(x, sigma, conditioning));

        public Tensor Denoise(Tensor x, double sigma, ConditioningInputs conditioning) => Keep(inner.Denoise(x, sigma, conditioning));

        private Tensor Keep(Tensor denoised)
        {
            using var d = denoised;
            var m = mask.to(d.dtype, d.device);
            return m * d + (1 - m) * init.to(d.dtype, d.device);
        }
    }

    /// <summary>[B, C, h, w] resized to side × side: area averaging when shrinking, bicubic when enlarging.</summary>
    public static Tensor Resize(Tensor images, int side)
    {
        if (images.shape[2] == side && images.shape[3] == side) return images.alias();
        return images.shape[2] > side
            ? F.interpolate(images, [side, side], mode: InterpolationMode.Area)
            : F.interpolate(images, [side, side], mode: InterpolationMode.Bicubic, align_corners: false).clamp(-1, 1);
    }

    /// <summary>
    /// Spherical interpolation of unit Gaussian noise, per image (the variation seeds of A1111): keeps the noise's norm,
    /// so every point between two seeds is noise the model expects.
    /// </summary>
    public static Tensor Slerp(Tensor a, Tensor b, double t)
    {
        if (t <= 0) return a.alias();
        if (t >= 1) return b.alias();
        using var scope = NewDisposeScope();
        long batch = a.shape[0];
        var fa = a.reshape(batch, -1);
        var fb = b.reshape(batch, -1);
        var cos = ((fa * fb).sum(1) / (fa.norm(1) * fb.norm(1))).clamp(-1, 1);
        var omega = cos.acos().unsqueeze(1);
        var sin = omega.sin();
        // Nearly parallel noise (never for independent draws): fall back to the straight line.
        var wa = where(sin.abs() < 1e-6, full_like(sin, 1 - t), (omega * (1 - t)).sin() / sin);
        var wb = where(sin.abs() < 1e-6, full_like(sin, t), (omega * t).sin() / sin);
        return (wa * fa + wb * fb).reshape(a.shape).MoveToOuterDisposeScope();
    }
}
