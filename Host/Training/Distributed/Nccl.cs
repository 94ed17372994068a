using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EDiffI.Host.Runtime;

namespace EDiffI.Host.Training.Distributed;

/// <summary>NCCL's ncclUniqueId: 128 opaque bytes that rank 0 makes and every rank needs to join the communicator.</summary>
[InlineArray(Size)]
public struct NcclUniqueId
{
    /// <summary>NCCL_UNIQUE_ID_BYTES.</summary>
    public const int Size = 128;
    private byte _first;
}

/// <summary>
/// The NCCL library (libnccl.so.2) bound through <see cref="NativeLibrary"/>: the few entry points a data-parallel run
/// uses, with nccl.h's signatures. Found, in this order, at the path named by <c>--nccl-lib</c> or
/// <see cref="PathVariable"/>, beside the CUDA libtorch in use (<c>torch/lib</c>, and the <c>nvidia/nccl/lib</c> that
/// PyTorch's pip wheels install next to <c>torch/</c>), and where the system loader looks (LD_LIBRARY_PATH, ldconfig).
/// </summary>
public sealed class NcclLibrary
{
    /// <summary>Environment variable naming libnccl.so.2 (the file, or the folder holding it).</summary>
    public const string PathVariable = "EDIFFI_NCCL_LIB";
    /// <summary>The library's file name.</summary>
    public const string FileName = "libnccl.so.2";

    // nccl.h: ncclDataType_t and ncclRedOp_t values used here.
    internal const int Int64 = 4, Float32 = 7, Float64 = 8, Float16 = 6, BFloat16 = 9, Sum = 0;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate int GetVersionFn(out int version);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate int GetUniqueIdFn(out NcclUniqueId id);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate int CommInitRankFn(out IntPtr comm, int nranks, NcclUniqueId id, int rank);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate int AllReduceFn(IntPtr send, IntPtr recv, nuint count, int datatype, int op, IntPtr comm, IntPtr stream);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate int BroadcastFn(IntPtr send, IntPtr recv, nuint count, int datatype, int root, IntPtr comm, IntPtr stream);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate int CommFn(IntPtr comm);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate int GetAsyncErrorFn(IntPtr comm, out int result);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate IntPtr ErrorStringFn(int result);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate int CommSplitFn(IntPtr comm, int color, int key, out IntPtr newComm, IntPtr config);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate int CommIntFn(IntPtr comm, out int value);

    internal GetVersionFn GetVersion { get; }
    internal GetUniqueIdFn GetUniqueId { get; }
    internal CommInitRankFn CommInitRank { get; }
    internal AllReduceFn AllReduce { get; }
    internal BroadcastFn Broadcast { get; }
    internal CommFn CommDestroy { get; }
    internal CommFn CommAbort { get; }
    internal GetAsyncErrorFn CommGetAsyncError { get; }
    internal ErrorStringFn GetErrorString { get; }
    /// <summary>ncclCommSplit (NCCL 2.18 or later); null in older libraries.</summary>
    internal CommSplitFn? CommSplit { get; }
    internal CommIntFn CommCount { get; }
    internal CommIntFn CommUserRank { get; }

    /// <summary>Where the library was loaded from.</summary>
    public string Path { get; }

    /// <summary>NCCL's version as nccl.h encodes it (e.g. 22809 for 2.28.9).</summary>
    public int Version { get; }

    private NcclLibrary(string path, IntPtr handle)
    {
        Path = path;
        T Bind<T>(string name) where T : Delegate => NativeLibrary.TryGetExport(handle, name, out var f)
            ? Marshal.GetDelegateForFunctionPointer<T>(f)
            : throw new UserException($"'{path}' is not a usable NCCL library: it has no {name}. Point --nccl-lib or {PathVariable} at libnccl.so.2 (2.12 or later).");
        GetVersion = Bind<GetVersionFn>("ncclGetVersion");
        GetUniqueId = Bind<GetUniqueIdFn>("ncclGetUniqueId");
        CommInitRank = Bind<CommInitRankFn>("ncclCommInitRank");
        AllReduce = Bind<AllReduceFn>("ncclAllReduce");
        Broadcast = Bind<BroadcastFn>("ncclBroadcast");
        CommDestroy = Bind<CommFn>("ncclCommDestroy");
        CommAbort = Bind<CommFn>("ncclCommAbort");
        CommGetAsyncError = Bind<GetAsyncErrorFn>("ncclCommGetAsyncError");
        GetErrorString = Bind<ErrorStringFn>("ncclGetErrorString");
        CommCount = Bind<CommIntFn>("ncclCommCount");
        CommUserRank = Bind<CommIntFn>("ncclCommUserRank");
        if (NativeLibrary.TryGetExport(handle, "ncclCommSplit", out var split)) CommSplit = Marshal.GetDelegateForFunctionPointer<CommSplitFn>(split);
        Check(GetVersion(out int version), "ncclGetVersion");
        Version = version;
    }

    /// <summary>The version as text, e.g. 2.28.9.</summary>
    public string VersionText => Version >= 10000 ? $"{Version / 10000}.{Version / 100 % 100}.{Version % 100}" : $"{Version / 1000}.{Version / 100 % 10}.{Version % 100}";

    /// <summary>
    /// The places searched for the library when none is named: each libtorch folder's own copy and its pip neighbour
    /// (<c>site-packages/nvidia/nccl/lib</c> beside <c>site-packages/torch/lib</c>), then the bare name for the system loader.
    /// </summary>
    public static IReadOnlyList<string> Candidates(IEnumerable<string?> torchFolders)
    {
        var list = new List<string>();
        foreach (var folder in torchFolders.Where(f => !string.IsNullOrEmpty(f)).Distinct())
        {
            list.Add(System.IO.Path.Combine(folder!, FileName));
            list.Add(System.IO.Path.GetFullPath(System.IO.Path.Combine(folder!, "..", "..", "nvidia", "nccl", "lib", FileName)));
        }
        list.Add(FileName);
        return list;
    }

    /// <summary>
    /// Loads NCCL from <paramref name="named"/> (a file or a folder; else <see cref="PathVariable"/>), which must then be
    /// there, or else from the first of <see cref="Candidates"/> (over the libtorch folders <see cref="TorchRuntime"/> reads)
    /// that loads. Throws a <see cref="UserException"/> that says what was tried.
    /// </summary>
    public static NcclLibrary Load(string? named = null)
    {
        named ??= Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrEmpty(named))
        {
            string file = Directory.Exists(named) ? System.IO.Path.Combine(named, FileName) : named;
            if (!File.Exists(file))
                throw new UserException($"NCCL was named at '{named}' (--nccl-lib or {PathVariable}), but there is no {(Directory.Exists(named) ? FileName + " in that folder" : "such file")}.");
            if (!NativeLibrary.TryLoad(file, out var handle))
                throw new UserException($"'{file}' (--nccl-lib or {PathVariable}) cannot be loaded as a native library; name a libnccl.so.2 built for this machine.");
            return new NcclLibrary(file, handle);
        }
        var candidates = Candidates([Environment.GetEnvironmentVariable(TorchRuntime.TorchLibVariable), Environment.GetEnvironmentVariable("TORCH_LIB_DIR")]);
        foreach (var candidate in candidates)
        {
            if (candidate != FileName && !File.Exists(candidate)) continue;
            if (NativeLibrary.TryLoad(candidate, out var handle)) return new NcclLibrary(candidate, handle);
        }
        throw new UserException(
            $"NCCL (libnccl.so.2) was not found; tried {string.Join(", ", candidates)}. Multi-GPU training needs the NCCL of a CUDA PyTorch " +
            $"install (pip's nvidia-nccl package: site-packages/nvidia/nccl/lib) or a named one: --nccl-lib <path> or {PathVariable}.");
    }

    /// <summary>Throws with NCCL's own words when <paramref name="result"/> is not ncclSuccess.</summary>
    internal void Check(int result, string call)
    {
        if (result == 0) return;
        string text = Marshal.PtrToStringAnsi(GetErrorString(result)) ?? "unknown error";
        throw new UserException($"{call} failed: {text} (ncclResult_t {result}). Setting NCCL_DEBUG=WARN shows NCCL's reason.");
    }
}

/// <summary>
/// The CUDA driver calls that make a rank's GPU the current device of the thread (cudaSetDevice's effect), which NCCL
/// uses when it joins the communicator. libcuda.so.1 is on every machine with an NVIDIA driver.
/// </summary>
internal static class CudaDriver
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int InitFn(uint flags);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int DeviceGetFn(out int device, int ordinal);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int RetainFn(out IntPtr context, int device);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int SetCurrentFn(IntPtr context);

    /// <summary>Makes GPU <paramref name="ordinal"/>'s primary context (the one the CUDA runtime and libtorch use) current.</summary>
    public static void SetDevice(int ordinal)
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var handle))
            throw new UserException("The CUDA driver (libcuda.so.1) cannot be loaded: multi-GPU training needs an NVIDIA driver.");
        T Bind<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(handle, name));
        void Check(int result, string call)
        {
            if (result != 0) throw new UserException($"{call} failed for GPU {ordinal} (CUresult {result}); is LOCAL_RANK within the GPUs this process sees?");
        }
        Check(Bind<InitFn>("cuInit")(0), "cuInit");
        Check(Bind<DeviceGetFn>("cuDeviceGet")(out int device, ordinal), "cuDeviceGet");
        Check(Bind<RetainFn>("cuDevicePrimaryCtxRetain")(out var context, device), "cuDevicePrimaryCtxRetain");
        Check(Bind<SetCurrentFn>("cuCtxSetCurrent")(context), "cuCtxSetCurrent");
    }
}
