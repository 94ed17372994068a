using EDiffI.Experts;

namespace EDiffI.Host.Training;

/// <summary>Settings of an EDM training run (Karras et al. 2022, Table 1 and Appendix F; eDiff-I, Section 5).</summary>
public sealed record TrainingOptions
{
    /// <summary>Images per step.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Steps to train to (a resumed run continues up to this).</summary>
    public long Steps { get; init; } = 10_000;
    /// <summary>Peak AdamW learning rate.</summary>
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>Steps of linear learning-rate warm-up.</summary>
    public long WarmupSteps { get; init; } = 200;
    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>P_mean: mean of ln σ during training.</summary>
    public double PMean { get; init; } = -1.2;
    /// <summary>P_std: standard deviation of ln σ during training.</summary>
    public double PStd { get; init; } = 1.2;
    /// <summary>Probability of dropping each conditioning stream, independently (classifier-free training).</summary>
    public double DropProbability { get; init; } = 0.1;
    /// <summary>
    /// Probability of dropping the CLIP image embedding of the training image. eDiff-I drops it often so
    /// the model draws in its natural style without a reference image and follows one when given.
    /// </summary>
    public double ImageDropProbability { get; init; } = 0.5;
    /// <summary>
    /// Quantile ranges of p(σ) this run trains on (an expert's interval, eDiff-I Section 4.1); null for
    /// the whole distribution.
    /// </summary>
    public List<QuantileRange>? SigmaQuantiles { get; init; }
    /// <summary>Largest gradient norm; larger gradients are scaled down. 0 turns clipping off.</summary>
    public double GradientClip { get; init; } = 1.0;
    /// <summary>Decay of the exponential moving average of the weights.</summary>
    public double EmaDecay { get; init; } = 0.999;
    /// <summary>Steps between checkpoints.</summary>
    public long CheckpointEvery { get; init; } = 500;
    /// <summary>Checkpoints kept on disk (oldest removed first).</summary>
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>Seed of weight initialisation and of the training stream.</summary>
    public long Seed { get; init; } = 1;
    /// <summary>
    /// The share of batches trained with circular padding on both axes (<see cref="EDiffI.Networks.TilingMode"/>), so that
    /// the network learns content that wraps around, as `generate --tile` asks of it; 0 trains with zero padding only.
    /// </summary>
    public double TileProbability { get; init; }

    /// <summary>
    /// Average number of times each drawn scene is trained on (<see cref="ScenePool"/>): 1 draws a fresh batch every step;
    /// R draws B/R new scenes a step into a pool and trains on B rows drawn from it, so a source slower than the training
    /// step (the procedural world on the CPU, the text encoders) feeds it R times faster.
    /// </summary>
    public int DataReuse { get; init; } = 1;
    /// <summary>With <see cref="DataReuse"/> above 1, the pool's size in batches.</summary>
    public int DataPool { get; init; } = 16;
    /// <summary>Chunks of data prepared ahead on a background thread; null: 3 on a GPU, 0 (drawn when needed) on the CPU.</summary>
    public int? Prefetch { get; init; }
    /// <summary>Steps between reads of the loss (each read waits for the device); the loss is also read before every checkpoint.</summary>
    public long ReportEvery { get; init; } = 20;
    /// <summary>Time the phases of every step (data, forward and backward, optimizer), synchronising the device between them.</summary>
    public bool Profile { get; init; }
}
