// Usage: Slim <app folder> <runtime folder>
// Prints, one per line, the runtime folder's files that the managed assemblies of the app folder can load: their
// assembly references, transitively, plus the native files the runtime itself needs. Facades (netstandard, mscorlib)
// are followed whole on purpose: McMaster.NETCore.Plugins loads the references of the shared assemblies recursively
// when a plugin loads, so every assembly netstandard forwards to must be there. Debugger, tracing and standalone-GC
// libraries are left out: nothing on the GPU machine attaches a debugger or a tracer.
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Slim <app folder> <runtime folder>");
    return 2;
}
var (appDir, runtimeDir) = (args[0], args[1]);
var runtime = Directory.GetFiles(runtimeDir, "*.dll").ToDictionary(f => Path.GetFileNameWithoutExtension(f), StringComparer.OrdinalIgnoreCase);
var keep = new SortedSet<string>(StringComparer.Ordinal) { "System.Private.CoreLib.dll" };
var queue = new Queue<string>(Directory.GetFiles(appDir, "*.dll", SearchOption.AllDirectories));
queue.Enqueue(Path.Combine(runtimeDir, "System.Private.CoreLib.dll"));
var seen = new HashSet<string>(StringComparer.Ordinal);
while (queue.Count > 0)
{
    var file = queue.Dequeue();
    if (!seen.Add(Path.GetFullPath(file))) continue;
    foreach (var reference in References(file))
    {
        if (runtime.TryGetValue(reference, out var path) && keep.Add(Path.GetFileName(path))) queue.Enqueue(path);
    }
}
string[] leftOut = ["libmscordaccore.so", "libmscordbi.so", "createdump", "libcoreclrtraceptprovider.so", "libclrgc.so", "libclrgcexp.so"];
foreach (var file in Directory.GetFiles(runtimeDir))
{
    var name = Path.GetFileName(file);
    if (!name.EndsWith(".dll", StringComparison.Ordinal) && !leftOut.Contains(name)) keep.Add(name);
}
foreach (var name in keep) Console.WriteLine(name);
Console.Error.WriteLine($"{keep.Count} of {Directory.GetFiles(runtimeDir).Length} runtime files kept");
return 0;

static List<string> References(string file)
{
    using var stream = File.OpenRead(file);
    using var pe = new PEReader(stream);
    if (!pe.HasMetadata) return []; // a native library
    var reader = pe.GetMetadataReader();
    return reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name)).ToList();
}
