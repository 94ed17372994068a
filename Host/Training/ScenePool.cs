using System.Collections.Concurrent;
using EDiffI.Conditioning;
using EDiffI.Data;
using EDiffI.Host.Runtime;
using static TorchSharp.torch;

namespace EDiffI.Host.Training;

/// <summary>
/// A batch ready for the network: images (and a super-resolution stage's low-resolution images) on the training device
/// and the text and image embeddings already computed, before any dropout.
/// </summary>
/// <param name="Images">The training images, [B, 3, H, W], on the device.</param>
/// <param name="LowResolution">The paired low-resolution images, or null.</param>
/// <param name="Conditioning">The encoded streams (T5, CLIP text, CLIP image) on the device.</param>
/// <param name="Captions">The captions, in row order.</param>
public sealed record PreparedBatch(Tensor Images, Tensor? LowResolution, ConditioningInputs Conditioning, IReadOnlyList<string> Captions) : IDisposable
{
    /// <summary>Every tensor by a field name (<c>images</c>, <c>low</c>, <c>t5.tokens</c>, ...), the layout of the pool.</summary>
    internal Dictionary<string, Tensor> Fields()
    {
        var fields = new Dictionary<string, Tensor>(StringComparer.Ordinal) { ["images"] = Images };
        if (LowResolution is not null) fields["low"] = LowResolution;
        void Text(string name, TextEmbedding? text)
        {
            if (text is null) return;
            fields[name + ".tokens"] = text.Tokens;
            fields[name + ".mask"] = text.Mask;
            if (text.Pooled is not null) fields[name + ".pooled"] = text.Pooled;
        }
        Text("t5", Conditioning.T5Text);
        Text("clip", Conditioning.ClipText);
        if (Conditioning.ClipImage is not null) fields["image"] = Conditioning.ClipImage;
        return fields;
    }

    /// <summary>The batch whose tensors are <paramref name="fields"/> (the inverse of <see cref="Fields"/>).</summary>
    internal static PreparedBatch FromFields(IReadOnlyDictionary<string, Tensor> fields, IReadOnlyList<string> captions)
    {
        TextEmbedding? Text(string name) => fields.TryGetValue(name + ".tokens", out var tokens)
            ? new TextEmbedding(tokens, fields[name + ".mask"], fields.GetValueOrDefault(name + ".pooled"))
            : null;
        return new PreparedBatch(fields["images"], fields.GetValueOrDefault("low"),
            new ConditioningInputs(Text("t5"), Text("clip"), fields.GetValueOrDefault("image")), captions);
    }

    /// <summary>Takes every tensor out of the current dispose scope (the pool owns them).</summary>
    internal PreparedBatch Detach()
    {
        foreach (var t in Fields().Values) t.DetachFromDisposeScope();
        return this;
    }

    /// <summary>The batch as the trainer's extension sees it (images and low-resolution images, captions).</summary>
    public TrainingBatch AsTrainingBatch() => new(Images, Captions, Conditioning, LowResolution);

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in Fields().Values) t.Dispose();
    }
}

/// <summary>
/// The trainer's data stream, prepared ahead of the steps that use it. Chunk <c>k</c> of the stream is drawn from the
/// source with its own generator (seeded from the run's seed and <c>k</c>), so the stream is the same whichever thread
/// draws it and however far ahead, and a run resumed at step <c>s</c> rebuilds exactly what an uninterrupted run held.
/// <para>
/// With a reuse of 1 the batch of step <c>s</c> is chunk <c>s</c>, a whole batch. With a reuse of <c>R</c> &gt; 1 the pool
/// holds <c>n</c> chunks of <c>B/R</c> scenes each; before step <c>s</c> it holds chunks <c>s .. s+n-1</c>, the step trains
/// on <c>B</c> rows drawn at random from it (with the trainer's generator), and then chunk <c>s+n</c> replaces chunk
/// <c>s</c>: every scene is trained on <c>R</c> times on average, each time with fresh noise, σ and dropout. A source that
/// is costly to draw (the procedural world renders on the CPU) or to encode (T5 and CLIP on every caption) then feeds a
/// faster training loop; the price is that a scene is seen several times, like the epochs over a finite dataset.
/// </para>
/// <para>
/// With <c>prefetch</c> &gt; 0 a background thread draws and prepares up to that many chunks ahead, overlapping the
/// rendering and the encoders with the training step; with 0 the chunk is drawn on the caller's thread when it is needed.
/// </para>
/// </summary>
public sealed class ScenePool : IDisposable
{
    private readonly Func<long, PreparedBatch> _produce;
    private readonly int _batchSize, _chunkSize, _chunks;
    private readonly Dictionary<string, Tensor> _pool = new(StringComparer.Ordinal);
    private readonly string[] _captions;
    private readonly BlockingCollection<PreparedBatch>? _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread? _producer;
    private Exception? _failure;
    private long _nextChunk; // the next chunk the consumer takes
    private PreparedBatch? _current; // reuse 1: the chunk of the step being trained

    /// <summary>Rows the pool holds.</summary>
    public int Rows => _chunkSize * _chunks;

    /// <summary>Scenes drawn per step.</summary>
    public int ChunkSize => _chunkSize;

    /// <summary>
    /// A stream of batches of <paramref name="batchSize"/> starting at step <paramref name="startStep"/>, where
    /// <paramref name="produce"/>(k, size) draws and prepares chunk k of <paramref name="chunkSizeFor"/> scenes.
    /// </summary>
    /// <param name="produce">Draws and prepares chunk k (of <see cref="ChunkSize"/> scenes); called in chunk order, from one thread at a time.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="reuse">Average number of times each scene is trained on (1: every batch is fresh).</param>
    /// <param name="poolBatches">With reuse above 1, the pool's size in batches.</param>
    /// <param name="startStep">The step the run starts (or resumes) at.</param>
    /// <param name="prefetch">Chunks prepared ahead on a background thread; 0 draws on the caller's thread.</param>
    public ScenePool(Func<long, int, PreparedBatch> produce, int batchSize, int reuse, int poolBatches, long startStep, int prefetch)
    {
        Validate(batchSize, reuse, poolBatches, prefetch);
        _batchSize = batchSize;
        _chunkSize = reuse == 1 ? batchSize : (batchSize + reuse - 1) / reuse;
        _chunks = reuse == 1 ? 1 : (poolBatches * batchSize + _chunkSize - 1) / _chunkSize;
        int size = _chunkSize;
        _produce = k => produce(k, size);
        _captions = new string[Rows];
        _nextChunk = startStep;
        if (prefetch > 0)
        {
            _queue = new BlockingCollection<PreparedBatch>(prefetch);
            long first = startStep;
            _producer = new Thread(() => Produce(first)) { IsBackground = true, Name = "scene pool" };
            _producer.Start();
        }
        if (reuse > 1)
            for (int i = 0; i < _chunks; i++) Put(Take());
    }

    /// <summary>Refuses settings a user can get wrong, with a message naming the option.</summary>
    /// <exception cref="UserException">The reuse, the pool or the prefetch depth is out of range.</exception>
    public static void Validate(int batchSize, int reuse, int poolBatches, int prefetch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (reuse < 1) throw new UserException($"--data-reuse must be at least 1 (got {reuse}).");
        if (reuse > batchSize) throw new UserException($"--data-reuse {reuse} is more than the batch of {batchSize}: a step would draw less than one new scene.");
        if (reuse > 1 && poolBatches < 1) throw new UserException($"--data-pool must be at least 1 batch (got {poolBatches}).");
        if (prefetch < 0) throw new UserException($"--prefetch must be 0 (draw when needed) or more (got {prefetch}).");
    }

    private void Produce(long first)
    {
        try
        {
            for (long k = first; !_stop.IsCancellationRequested; k++)
            {
                var chunk = ProduceDetached(k);
                try
                {
                    _queue!.Add(chunk, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    chunk.Dispose();
                    return;
                }
            }
        }
        catch (Exception e)
        {
            _failure = e;
            _queue!.CompleteAdding();
        }
    }

    // The next chunk of the stream, in order.
    private PreparedBatch Take()
    {
        long k = _nextChunk++;
        if (_queue is null) return ProduceDetached(k);
        try
        {
            return _queue.Take(_stop.Token);
        }
        catch (InvalidOperationException) when (_failure is not null)
        {
            throw _failure is UserException ? _failure : new InvalidOperationException($"Preparing training data failed at chunk {k}: {_failure.Message}", _failure);
        }
    }

    // Chunk k, its tensors owned by the pool and every intermediate tensor of drawing and encoding it disposed.
    private PreparedBatch ProduceDetached(long k)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return _produce(k).Detach();
    }

    // Writes a chunk into its slot of the pool: chunk k goes to rows [(k mod n)·c, (k mod n + 1)·c).
    private void Put(PreparedBatch chunk)
    {
        using (chunk)
        using (no_grad())
        {
            long k = _nextChunk - 1;
            long start = (k % _chunks) * _chunkSize;
            foreach (var (name, value) in chunk.Fields())
            {
                if (value.shape[0] != _chunkSize) throw new InvalidOperationException($"the data source gave {value.shape[0]} rows for a chunk of {_chunkSize}");
                var rows = value;
                if (!_pool.TryGetValue(name, out var pool))
                {
                    long[] shape = value.shape;
                    shape[0] = Rows;
                    pool = zeros(shape, dtype: value.dtype, device: value.device).DetachFromDisposeScope();
                    _pool[name] = pool;
                }
                // Token streams are padded to the longest caption seen so far (padding is masked out).
                if (value.dim() >= 2 && value.shape[1] != pool.shape[1] && (name.EndsWith(".tokens", StringComparison.Ordinal) || name.EndsWith(".mask", StringComparison.Ordinal)))
                {
                    if (value.shape[1] > pool.shape[1]) _pool[name] = pool = Pad(pool, value.shape[1]);
                    else rows = Pad(value, pool.shape[1]);
                }
                using (var slot = pool.narrow(0, start, _chunkSize)) slot.copy_(rows);
                if (!ReferenceEquals(rows, value)) rows.Dispose();
            }
            for (int i = 0; i < _chunkSize; i++) _captions[start + i] = chunk.Captions[i];
        }
    }

    private static Tensor Pad(Tensor t, long length)
    {
        long[] shape = t.shape;
        shape[1] = length - shape[1];
        using var zero = zeros(shape, dtype: t.dtype, device: t.device);
        var padded = cat([t, zero], 1).DetachFromDisposeScope();
        t.Dispose();
        return padded;
    }

    /// <summary>
    /// The batch of the next step: the next chunk itself (reuse 1), or <see cref="TrainingOptions.BatchSize"/> rows drawn from
    /// the pool with <paramref name="generator"/>, after which the pool takes in the next chunk. The batch's tensors belong to
    /// the caller's dispose scope (reuse above 1) or to the pool until the next call (reuse 1).
    /// </summary>
    public PreparedBatch Next(Generator generator)
    {
        ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
        if (_chunks == 1 && _chunkSize == _batchSize)
        {
            _current?.Dispose();
            _current = Take();
            return _current;
        }
        var rows = randint(0, Rows, [_batchSize], dtype: ScalarType.Int64, generator: generator);
        long[] picked = rows.data<long>().ToArray();
        var device = _pool["images"].device;
        var onDevice = rows.to(device);
        var batch = PreparedBatch.FromFields(_pool.ToDictionary(kv => kv.Key, kv => kv.Value.index_select(0, onDevice), StringComparer.Ordinal),
            picked.Select(i => _captions[i]).ToList());
        // The rows are copies, so the pool may take in the next chunk before the step runs.
        Put(Take());
        return batch;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _producer?.Join();
        if (_queue is not null)
        {
            while (_queue.TryTake(out var left)) left.Dispose();
            _queue.Dispose();
        }
        _current?.Dispose();
        foreach (var t in _pool.Values) t.Dispose();
        _stop.Dispose();
    }
}
