using System.Runtime.InteropServices;
using EDiffI.Conditioning;
using EDiffI.Networks;
using static TorchSharp.torch;

namespace EDiffI.Denoising;

/// <summary>
/// CUDA graphs for network evaluations: a network's forward pass on a CUDA device is captured once per input shape and
/// replayed with one launch, instead of one launch per operation from .NET. The small shipped networks are
/// launch-bound on a GPU (hundreds of small kernels per evaluation), so this is where their time goes.
/// TorchSharp has no CUDA graphs; the optional native shim <c>libediffi_cudagraphs</c> (native/cudagraphs, built with
/// <c>bash native/cudagraphs/build.sh</c> against the PyTorch install the app runs on) wraps libtorch's. Without it,
/// on CPU, with gradients on, or for conditioning a graph cannot hold, evaluations run eagerly, as before.
/// </summary>
public static class CudaGraphs
{
    /// <summary>The environment variable naming the shim's path.</summary>
    public const string LibraryVariable = "EDIFFI_CUDA_GRAPHS_LIB";

    /// <summary>The environment variable that turns graphs off ("off" or "0").</summary>
    public const string SwitchVariable = "EDIFFI_CUDA_GRAPHS";

    /// <summary>Whether graphs may be used at all (the hosts' <c>--cuda-graphs on|off</c>); on unless turned off.</summary>
    public static bool Enabled { get; set; } =
        Environment.GetEnvironmentVariable(SwitchVariable)?.Trim().ToLowerInvariant() is not ("off" or "0" or "false");

    private static readonly Lazy<Shim?> Library = new(Shim.Load);

    /// <summary>Why graphs are not in use on CUDA (no shim found, a version it does not know), or null once loaded.</summary>
    public static string? UnavailableReason { get; private set; }

    /// <summary>True when the shim is loaded (it is looked for the first time this is asked, or a CUDA network runs).</summary>
    public static bool Available => Library.Value is not null;

    /// <summary>
    /// <paramref name="network"/> with its CUDA evaluations replayed from graphs. Only for networks whose weights stay
    /// where they are while the wrapper lives (not under a placement that moves experts between host and device).
    /// </summary>
    public static GraphedNetwork Wrap(IEdmNetwork network) => new(network);

    internal static Shim? Native => Enabled ? Library.Value : null;

    /// <summary>The shim whether or not graphs are on (its kernels are switched separately), or null.</summary>
    internal static Shim? Loaded => Library.Value;

    private static long _captures, _replays;

    /// <summary>Graphs captured in this process so far, by every wrapper.</summary>
    public static long Captures => Interlocked.Read(ref _captures);

    /// <summary>Evaluations replayed from graphs in this process so far.</summary>
    public static long Replays => Interlocked.Read(ref _replays);

    /// <summary>Why the latest capture in this process failed (its evaluations run eagerly), or null.</summary>
    public static string? LastFailure { get; internal set; }

    /// <summary>One line for a host's output: off, unavailable (why), or on with the counts and any failure.</summary>
    public static string Summary() =>
        !Enabled ? "CUDA graphs: off"
        : !Available ? $"CUDA graphs: unavailable ({UnavailableReason})"
        : $"CUDA graphs: on, {Captures} captured, {Replays} evaluations replayed" + (LastFailure is { } f ? $"; a capture failed and ran eagerly: {f}" : "");

    internal static void Counted(bool capture)
    {
        if (capture) Interlocked.Increment(ref _captures);
        else Interlocked.Increment(ref _replays);
    }

    /// <summary>The shim's C entry points (native/cudagraphs/ediffi_cudagraphs.cpp).</summary>
    internal sealed class Shim
    {
        // 1: graphs; 2: and the fused channels-last GroupNorm (CudaKernels).
        private const int KnownVersion = 2;

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int VersionFn();
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate IntPtr ErrorFn();
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate IntPtr CreateFn();
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int BeginFn(IntPtr graph, int device);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int HandleFn(IntPtr graph);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate void DestroyFn(IntPtr graph);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate int GroupNormFn(IntPtr x, IntPtr output, IntPtr gamma, IntPtr beta, IntPtr scale, IntPtr shift, int groups, double eps, int silu);

        private ErrorFn _error = null!;
        private CreateFn _create = null!;
        private BeginFn _begin = null!;
        private HandleFn _end = null!, _replay = null!;
        private DestroyFn _destroy = null!;
        private GroupNormFn? _groupNorm;

        /// <summary>True when the shim has the fused GroupNorm kernel (interface version 2).</summary>
        public bool HasGroupNorm => _groupNorm is not null;

        public static Shim? Load()
        {
            string file = OperatingSystem.IsWindows() ? "ediffi_cudagraphs.dll" : "libediffi_cudagraphs.so";
            var candidates = new List<string>();
            if (Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } named) candidates.Add(named);
            candidates.Add(Path.Combine(AppContext.BaseDirectory, file));
            foreach (string path in candidates)
            {
                if (!File.Exists(path)) continue;
                if (!NativeLibrary.TryLoad(path, out var lib))
                {
                    UnavailableReason = $"the CUDA graph shim '{path}' could not be loaded (built against another libtorch?)";
                    return null;
                }
                T Export<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(lib, name));
                int version = Export<VersionFn>("ediffi_cg_version")();
                if (version < 1 || version > KnownVersion)
                {
                    UnavailableReason = $"the CUDA graph shim '{path}' has interface version {version}; this build knows {KnownVersion}";
                    return null;
                }
                UnavailableReason = null;
                return new Shim
                {
                    _error = Export<ErrorFn>("ediffi_cg_last_error"),
                    _create = Export<CreateFn>("ediffi_cg_create"),
                    _begin = Export<BeginFn>("ediffi_cg_begin"),
                    _end = Export<HandleFn>("ediffi_cg_end"),
                    _replay = Export<HandleFn>("ediffi_cg_replay"),
                    _destroy = Export<DestroyFn>("ediffi_cg_destroy"),
                    _groupNorm = version >= 2 ? Export<GroupNormFn>("ediffi_group_norm_nhwc") : null,
                };
            }
            UnavailableReason = $"no CUDA graph shim ({file}) beside the app or named by {LibraryVariable}; build it with `bash native/cudagraphs/build.sh`";
            return null;
        }

        private string LastError => Marshal.PtrToStringUTF8(_error()) ?? "unknown error";

        public IntPtr Create()
        {
            var g = _create();
            return g != IntPtr.Zero ? g : throw new InvalidOperationException(LastError);
        }

        public void Begin(IntPtr graph, int device) => Check(_begin(graph, device));

        public void End(IntPtr graph) => Check(_end(graph));

        public void Replay(IntPtr graph) => Check(_replay(graph));

        public void Destroy(IntPtr graph) => _destroy(graph);

        // False when the kernel does not apply to these tensors (the caller runs eagerly); throws on a failure.
        public bool GroupNorm(Tensor x, Tensor output, Tensor? gamma, Tensor? beta, Tensor? scale, Tensor? shift, int groups, double eps, bool silu)
        {
            var fn = _groupNorm ?? throw new InvalidOperationException("this shim has no fused GroupNorm (interface version 1)");
            int rc = fn(x.Handle, output.Handle, gamma?.Handle ?? IntPtr.Zero, beta?.Handle ?? IntPtr.Zero, scale?.Handle ?? IntPtr.Zero,
                shift?.Handle ?? IntPtr.Zero, groups, eps, silu ? 1 : 0);
            GC.KeepAlive(x); GC.KeepAlive(output); GC.KeepAlive(gamma); GC.KeepAlive(beta); GC.KeepAlive(scale); GC.KeepAlive(shift);
            if (rc == 1) return false;
            Check(rc);
            return true;
        }

        private void Check(int rc)
        {
            if (rc != 0) throw new InvalidOperationException(LastError);
        }
    }
}

/// <summary>
/// An <see cref="IEdmNetwork"/> whose CUDA evaluations replay captured graphs (<see cref="CudaGraphs"/>). A graph is
/// captured per input signature (the shapes and dtypes of x, σ and every conditioning tensor, and the tiling axes);
/// each call copies its inputs into the graph's static inputs, replays, and returns a copy of the static output, so
/// results are those of the eager pass (same kernels, same order). Conditioning extras other than
/// <see cref="TilingMode"/> (for example paint-with-words masks) and evaluations with gradients run eagerly, and so
/// does a signature whose capture failed (the reason is kept in <see cref="LastFailure"/>).
/// </summary>
public sealed class GraphedNetwork(IEdmNetwork inner, int capacity = 8) : IEdmNetwork, IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Entry> _graphs = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _recent = new();
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>The wrapped network.</summary>
    public IEdmNetwork Inner { get; } = inner;

    /// <inheritdoc />
    public ScalarType ComputeType => Inner.ComputeType;

    /// <summary>Evaluations replayed from a graph so far.</summary>
    public long Replays { get; private set; }

    /// <summary>Graphs captured so far.</summary>
    public int Captures { get; private set; }

    /// <summary>Why the last capture failed, or null.</summary>
    public string? LastFailure { get; private set; }

    /// <inheritdoc />
    public Tensor Forward(Tensor xIn, Tensor sigma, Tensor cNoise, ConditioningInputs conditioning)
    {
        if (xIn.device_type != TorchSharp.DeviceType.CUDA || is_grad_enabled() || !Graphable(conditioning) || CudaGraphs.Native is not { } shim)
            return Inner.Forward(xIn, sigma, cNoise, conditioning);
        var leaves = Leaves(xIn, sigma, cNoise, conditioning);
        var tiling = conditioning.Get<TilingMode>()?.Axes ?? TileAxes.None;
        string key = Key(leaves, tiling, xIn.device.index);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_failed.Contains(key)) return Inner.Forward(xIn, sigma, cNoise, conditioning);
            if (!_graphs.TryGetValue(key, out var entry))
            {
                entry = Capture(shim, leaves, conditioning, xIn.device, key);
                if (entry is null) return Inner.Forward(xIn, sigma, cNoise, conditioning);
            }
            else
            {
                _recent.Remove(entry.Node);
                _recent.AddFirst(entry.Node);
            }
            for (int i = 0; i < leaves.Count; i++)
                if (leaves[i] is { } t) entry.Inputs[i]!.copy_(t);
            shim.Replay(entry.Graph);
            Replays++;
            CudaGraphs.Counted(capture: false);
            return entry.Output.clone();
        }
    }

    // Extras a graph cannot hold: their tensors would be baked in at capture. Tiling is a host-side switch (the key).
    private static bool Graphable(ConditioningInputs c) =>
        c.Extensions is null || c.Extensions.Keys.All(t => t == typeof(TilingMode));

    // Every tensor the network reads, in a fixed order; null where a stream is absent.
    private static List<Tensor?> Leaves(Tensor xIn, Tensor sigma, Tensor cNoise, ConditioningInputs c)
    {
        var list = new List<Tensor?> { xIn, sigma, cNoise };
        foreach (var text in new[] { c.T5Text, c.ClipText })
        {
            list.Add(text?.Tokens);
            list.Add(text?.Mask);
            list.Add(text?.Pooled);
        }
        list.Add(c.ClipImage);
        foreach (var (_, s) in (c.Streams ?? new Dictionary<string, ConditioningStream>()).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            list.Add(s.Tokens);
            list.Add(s.Mask);
            list.Add(s.Pooled);
            list.Add(s.Spatial);
        }
        return list;
    }

    private static string Key(List<Tensor?> leaves, TileAxes tiling, int device)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append(device).Append('|').Append(tiling);
        foreach (var t in leaves)
        {
            sb.Append('|');
            if (t is null) { sb.Append('-'); continue; }
            sb.Append(t.dtype).Append(':').Append(t.device_type).Append(':').Append(string.Join('x', t.shape));
        }
        return sb.ToString();
    }

    // Captures one evaluation of the signature: static copies of the inputs, a warm-up pass (lazy library set-up must
    // not happen inside a capture), the capture, and the conditioning rebuilt around the static tensors.
    private Entry? Capture(CudaGraphs.Shim shim, List<Tensor?> leaves, ConditioningInputs conditioning, Device device, string key)
    {
        var inputs = leaves.Select(t => t?.clone().DetachFromDisposeScope()).ToList();
        var staticConditioning = Rebuild(conditioning, inputs);
        IntPtr graph = IntPtr.Zero;
        try
        {
            using (NewDisposeScope()) Inner.Forward(inputs[0]!, inputs[1]!, inputs[2]!, staticConditioning);
            cuda.synchronize(device);
            graph = shim.Create();
            Tensor output;
            shim.Begin(graph, device.index < 0 ? 0 : device.index);
            try
            {
                using var scope = NewDisposeScope();
                output = Inner.Forward(inputs[0]!, inputs[1]!, inputs[2]!, staticConditioning).DetachFromDisposeScope();
            }
            catch
            {
                try { shim.End(graph); } catch (InvalidOperationException) { }
                throw;
            }
            shim.End(graph);
            var entry = new Entry(shim, graph, inputs, output, _recent.AddFirst(key));
            _graphs[key] = entry;
            Captures++;
            CudaGraphs.Counted(capture: true);
            while (_graphs.Count > capacity)
            {
                string oldest = _recent.Last!.Value;
                _recent.RemoveLast();
                _graphs.Remove(oldest, out var old);
                old!.Dispose();
            }
            return entry;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ExternalException or ArgumentException)
        {
            if (graph != IntPtr.Zero) shim.Destroy(graph);
            foreach (var t in inputs) t?.Dispose();
            _failed.Add(key);
            LastFailure = $"{key}: {ex.Message}";
            CudaGraphs.LastFailure = LastFailure;
            return null;
        }
    }

    // The conditioning with every tensor replaced by its static copy, read back in the order Leaves wrote them.
    private static ConditioningInputs Rebuild(ConditioningInputs c, List<Tensor?> s)
    {
        int at = 3; // after x, σ and c_noise
        Tensor? Next() => s[at++];
        TextEmbedding? Text(TextEmbedding? t)
        {
            var (tokens, mask, pooled) = (Next(), Next(), Next());
            return t is null ? null : new TextEmbedding(tokens!, mask!, pooled);
        }
        var t5 = Text(c.T5Text);
        var clip = Text(c.ClipText);
        var image = Next();
        var streams = c.Streams?.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (kv.Key, Stream: new ConditioningStream(Next(), Next(), Next(), Next())))
            .ToDictionary(p => p.Key, p => p.Stream, StringComparer.Ordinal);
        return new ConditioningInputs(t5, clip, image, c.Extensions, streams);
    }

    /// <summary>Frees every graph and its memory (the wrapped network is not disposed).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var entry in _graphs.Values) entry.Dispose();
            _graphs.Clear();
            _recent.Clear();
        }
    }

    private sealed record Entry(CudaGraphs.Shim Shim, IntPtr Graph, List<Tensor?> Inputs, Tensor Output, LinkedListNode<string> Node) : IDisposable
    {
        public void Dispose()
        {
            Output.Dispose();
            Shim.Destroy(Graph);
            foreach (var t in Inputs) t?.Dispose();
        }
    }
}
