using System.Diagnostics;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace EDiffI.Bridge.Tests;

/// <summary>
/// The Unity package as Unity meets it, without Unity: each assembly definition compiled on its own
/// the way Unity 2021.3 compiles it (csc, C# 9, no implicit usings, .NET Standard 2.1 reference
/// assemblies, the asmdef's own references only, against the stand-in that names every public
/// UnityEngine/UnityEditor type), with fixtures that must fail so the check is known to bite; the
/// committed .meta files and import settings; the shipped assemblies' dependency closure; and that
/// the committed client DLL is the client of this source.
/// </summary>
public partial class UnityPackageTests
{
    private static readonly string Repository = FindRepository();
    private static readonly string Package = Path.Combine(Repository, "UnityBridge", "Package");
    private static readonly string Plugins = Path.Combine(Package, "Plugins");
    private static readonly string Fixtures = Path.Combine(Repository, "UnityBridge", "PackageCheck", "Fixtures");

    [Fact]
    public void PackageCompilesAsUnity2021CompilesIt()
    {
        using var output = new TempFolder();
        foreach (var assembly in AssemblyDefinition.InBuildOrder(Package))
        {
            var (code, log) = UnityCompile(assembly, output.Path);
            Assert.True(code == 0, $"{assembly.Name} does not compile the Unity way:\n{log}");
        }
    }

    [Fact]
    public void AmbiguousUnityTypeNameFailsTheCheck()
    {
        using var output = new TempFolder();
        var (runtime, editor) = RuntimeAndEditor();
        Assert.Equal(0, UnityCompile(runtime, output.Path).Code);
        var (code, log) = UnityCompile(editor, output.Path, Path.Combine(Fixtures, "AmbiguousProgress.cs"));
        Assert.NotEqual(0, code);
        Assert.Contains("error CS0104", log);
        Assert.Contains("'Progress' is an ambiguous reference between 'EDiffI.Bridge.Protocol.Progress' and 'UnityEditor.Progress'", log);
        Assert.Contains("AmbiguousProgress.cs", log);
    }

    [Fact]
    public void NewerCSharpFailsTheCheck()
    {
        using var output = new TempFolder();
        var (runtime, editor) = RuntimeAndEditor();
        Assert.Equal(0, UnityCompile(runtime, output.Path).Code);
        var (code, log) = UnityCompile(editor, output.Path, Path.Combine(Fixtures, "NewerCSharp.cs"));
        Assert.NotEqual(0, code);
        Assert.Contains("NewerCSharp.cs", log);
        Assert.Contains("C# 9.0", log);
    }

    [Fact]
    public void AssemblyDefinitionsAreEditorOnlyAndNameOnlyShippedAssemblies()
    {
        var (runtime, editor) = RuntimeAndEditor();
        foreach (var assembly in new[] { runtime, editor })
        {
            Assert.Equal(["Editor"], assembly.IncludePlatforms); // game builds carry nothing of ours
            Assert.True(assembly.OverrideReferences, $"{assembly.Name} must name its precompiled references");
            foreach (string dll in assembly.PrecompiledReferences)
                Assert.True(File.Exists(Path.Combine(Plugins, dll)), $"{assembly.Name} references {dll}, which Plugins/ lacks");
        }
        Assert.False(runtime.AutoReferenced, "the runtime helpers are only for the package's editor code");
    }

    [Fact]
    public void EveryAssetHasAMetaFileWithAStableUniqueGuid()
    {
        var guids = new Dictionary<string, string>();
        foreach (string path in Directory.EnumerateFileSystemEntries(Package, "*", SearchOption.AllDirectories))
        {
            string name = Path.GetFileName(path);
            if (name.StartsWith('.')) continue;
            string relative = Path.GetRelativePath(Package, path).Replace('\\', '/');
            if (name.EndsWith(".meta", StringComparison.Ordinal))
            {
                string asset = path[..^".meta".Length];
                Assert.True(File.Exists(asset) || Directory.Exists(asset), $"{relative} belongs to no asset: delete it");
                continue;
            }
            string meta = path + ".meta";
            Assert.True(File.Exists(meta), $"{relative} has no .meta file: run python3 UnityBridge/PackageCheck/make_meta.py and commit it");
            var match = GuidLine().Match(File.ReadAllText(meta));
            Assert.True(match.Success, $"{relative}.meta has no guid line");
            string guid = match.Groups[1].Value;
            Assert.Equal(StableGuid(relative), guid); // the same in every clone, made by make_meta.py
            Assert.True(guids.TryAdd(guid, relative), $"{relative} and {guids.GetValueOrDefault(guid)} share a GUID");
        }
        Assert.Contains("package.json", guids.Values);
        Assert.Contains("Plugins/MessagePack.dll", guids.Values);
    }

    [Fact]
    public void ShippedAssembliesAreEditorOnlyAndNotAutoReferenced()
    {
        var dlls = Directory.GetFiles(Plugins, "*.dll");
        Assert.NotEmpty(dlls);
        foreach (string dll in dlls)
        {
            string name = Path.GetFileName(dll);
            string meta = File.ReadAllText(dll + ".meta").Replace("\r\n", "\n");
            Assert.Contains("PluginImporter:", meta);
            Assert.Contains("  isExplicitlyReferenced: 1\n", meta); // "Auto Reference" off
            Assert.Contains("  validateReferences: 1\n", meta);
            Assert.Contains("      Any: \n    second:\n      enabled: 0\n", meta);
            Assert.Contains("      Editor: Editor\n    second:\n      enabled: 1\n", meta);
            Assert.Equal(2, Regex.Count(meta, "^  - first:", RegexOptions.Multiline)); // no other platform
            // A project that has its own copy of a third-party DLL defines the symbol, and ours steps aside.
            if (name != "EDiffI.Bridge.Client.dll") Assert.Matches(new Regex(@"defineConstraints:\n  - '!EDIFFI_PROJECT_HAS_[A-Z_]+'\n"), meta);
        }
    }

    [Fact]
    public void DependencyClosureIsInUnitysNetStandard21SetOrShipped()
    {
        var unity = UnityProvided();
        var shipped = Directory.GetFiles(Plugins, "*.dll").Select(Path.GetFileNameWithoutExtension).ToHashSet(StringComparer.OrdinalIgnoreCase)!;
        Assert.Contains("System.Runtime.CompilerServices.Unsafe", shipped);
        var missing = new List<string>();
        long bytes = 0;
        foreach (string dll in Directory.GetFiles(Plugins, "*.dll"))
        {
            bytes += new FileInfo(dll).Length;
            using var pe = new PEReader(File.OpenRead(dll));
            var reader = pe.GetMetadataReader();
            // System.Runtime.CompilerServices.Unsafe is written in IL and says no framework; the others say theirs.
            string? framework = TargetFramework(reader);
            Assert.True(framework is null || framework.StartsWith(".NETStandard", StringComparison.Ordinal),
                $"{Path.GetFileName(dll)} targets {framework}; Unity loads .NET Standard assemblies (copy the netstandard2.x build)");
            foreach (var handle in reader.AssemblyReferences)
            {
                string name = reader.GetString(reader.GetAssemblyReference(handle).Name);
                Assert.False(name == "System.Private.CoreLib", $"{Path.GetFileName(dll)} is a .NET (Core) build; copy the netstandard2.x one");
                if (!unity.Contains(name) && !shipped.Contains(name)) missing.Add($"{Path.GetFileName(dll)} → {name}");
            }
        }
        Assert.True(missing.Count == 0,
            "Unity lacks these and Plugins/ does not ship them: " + string.Join(", ", missing) +
            ". Run `dotnet build UnityBridge/Client -c Release -p:CopyToUnityPackage=true` and commit Plugins/ (with make_meta.py's .meta files).");
        // The client, MessagePack and the farm's NATS.Net closure (about 3.5 MB, System.Text.Json and NATS.Client.JetStream the largest).
        Assert.True(bytes < 4_000_000, $"Plugins/ holds {bytes} bytes; committed binaries must stay small");
    }

    [Fact]
    public void UnityProvidedListIsTheNetStandard21ReferenceSet()
    {
        string folder = Metadata("NetStandardRef");
        Assert.True(Directory.Exists(folder), $"the .NET Standard 2.1 reference assemblies are not at {folder}");
        var reference = Directory.GetFiles(folder, "*.dll").Select(Path.GetFileNameWithoutExtension).ToHashSet(StringComparer.OrdinalIgnoreCase);
        Assert.Equal(reference.Order(StringComparer.OrdinalIgnoreCase), UnityProvided().Order(StringComparer.OrdinalIgnoreCase));
        Assert.DoesNotContain("System.Runtime.CompilerServices.Unsafe", reference);
    }

    [Fact]
    public void ShippedClientIsBuiltFromThisSource()
    {
        string expected = SourceHash(Path.Combine(Repository, "UnityBridge", "Client"));
        Assert.Equal(expected, typeof(BridgeClient).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SourceHash").Value);
        using var pe = new PEReader(File.OpenRead(Path.Combine(Plugins, "EDiffI.Bridge.Client.dll")));
        var reader = pe.GetMetadataReader();
        string? shipped = null;
        foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = reader.GetCustomAttribute(handle);
            if (AttributeTypeName(reader, attribute) != "System.Reflection.AssemblyMetadataAttribute") continue;
            var blob = reader.GetBlobReader(attribute.Value);
            blob.ReadUInt16();
            if (blob.ReadSerializedString() == "SourceHash") shipped = blob.ReadSerializedString();
        }
        Assert.True(expected == shipped,
            "UnityBridge/Package/Plugins/EDiffI.Bridge.Client.dll was built from other sources than UnityBridge/Client holds now. " +
            "Run `dotnet build UnityBridge/Client -c Release -p:CopyToUnityPackage=true` and commit Plugins/.");
    }

    // As the client project's EDiffIHashSources task computes it.
    private static string SourceHash(string folder)
    {
        var files = Directory.GetFiles(folder, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Where(f => !f.StartsWith("bin/", StringComparison.Ordinal) && !f.StartsWith("obj/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (string f in files) text.Append(f).Append('\n').Append(File.ReadAllText(Path.Combine(folder, f)).Replace("\r\n", "\n", StringComparison.Ordinal)).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    [Fact]
    public void ShippedClientIsTheClientOfThisSource()
    {
        var built = PublicSurface(typeof(BridgeClient).Assembly.Location);
        var shipped = PublicSurface(Path.Combine(Plugins, "EDiffI.Bridge.Client.dll"));
        var onlyBuilt = built.Except(shipped).Take(10).ToList();
        var onlyShipped = shipped.Except(built).Take(10).ToList();
        Assert.True(onlyBuilt.Count == 0 && onlyShipped.Count == 0,
            "UnityBridge/Package/Plugins/EDiffI.Bridge.Client.dll is not the client of this source. " +
            "Run `dotnet build UnityBridge/Client -c Release -p:CopyToUnityPackage=true` and commit Plugins/. " +
            $"Only in the source: {string.Join("; ", onlyBuilt)}. Only in the shipped DLL: {string.Join("; ", onlyShipped)}.");
    }

    // ---- compiling the Unity way ----

    private static (AssemblyDefinition Runtime, AssemblyDefinition Editor) RuntimeAndEditor()
    {
        var all = AssemblyDefinition.InBuildOrder(Package);
        return (all.Single(a => a.Name == "EDiffI.Bridge.Runtime"), all.Single(a => a.Name == "EDiffI.Bridge.Editor"));
    }

    /// <summary>
    /// Compiles one assembly definition as Unity's editor does: its folder's C# files, C# 9, the
    /// .NET Standard 2.1 reference set, the Unity stand-in, its precompiled references from Plugins/
    /// and its asmdef references from <paramref name="output"/> (compiled before), the editor's defines.
    /// </summary>
    private static (int Code, string Log) UnityCompile(AssemblyDefinition assembly, string output, params string[] extraSources)
    {
        var rsp = new StringBuilder();
        rsp.AppendLine("-nologo").AppendLine("-noconfig").AppendLine("-nostdlib+").AppendLine("-target:library")
            .AppendLine("-langversion:9").AppendLine("-deterministic").AppendLine("-debug-").AppendLine("-warn:4")
            .AppendLine("-define:UNITY_EDITOR;UNITY_2021_3;UNITY_2021_3_OR_NEWER;UNITY_2021_OR_NEWER;NET_STANDARD_2_1;NET_STANDARD;CSHARP_7_3_OR_NEWER")
            .AppendLine(Quoted("-out:" + Path.Combine(output, assembly.Name + ".dll")));
        foreach (string dll in Directory.GetFiles(Metadata("NetStandardRef"), "*.dll")) rsp.AppendLine(Quoted("-reference:" + dll));
        rsp.AppendLine(Quoted("-reference:" + Metadata("StandIn")));
        foreach (string dll in assembly.PrecompiledReferences) rsp.AppendLine(Quoted("-reference:" + Path.Combine(Plugins, dll)));
        foreach (string name in assembly.References) rsp.AppendLine(Quoted("-reference:" + Path.Combine(output, name + ".dll")));
        foreach (string source in assembly.Sources.Concat(extraSources)) rsp.AppendLine(Quoted(source));
        string rspPath = Path.Combine(output, assembly.Name + ".rsp");
        File.WriteAllText(rspPath, rsp.ToString());

        string dotnet = Metadata("Dotnet") is { Length: > 0 } host ? host : HostLauncher.FindDotnet();
        var info = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Metadata("Csc"));
        info.ArgumentList.Add("@" + rspPath);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string log = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(180_000), "csc did not finish within 3 minutes");
        return (process.ExitCode, log + stderr.Result);
    }

    private static string Quoted(string argument) => "\"" + argument + "\"";

    private static string Metadata(string key) =>
        typeof(UnityPackageTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value ?? "";

    // ---- the assembly sets ----

    private static HashSet<string> UnityProvided() =>
        File.ReadAllLines(Path.Combine(Repository, "UnityBridge", "PackageCheck", "unity-netstandard-2.1.txt"))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => Path.GetFileNameWithoutExtension(line.Trim()))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static string? TargetFramework(MetadataReader reader)
    {
        foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = reader.GetCustomAttribute(handle);
            if (AttributeTypeName(reader, attribute) != "System.Runtime.Versioning.TargetFrameworkAttribute") continue;
            var blob = reader.GetBlobReader(attribute.Value);
            blob.ReadUInt16(); // prolog
            return blob.ReadSerializedString();
        }
        return null;
    }

    /// <summary>
    /// What a consumer of the assembly sees and what the wire format depends on: public types and
    /// their public fields, properties, events and methods (with parameter counts), and the
    /// arguments of every attribute on them (MessagePack keys and unions included).
    /// </summary>
    private static SortedSet<string> PublicSurface(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var reader = pe.GetMetadataReader();
        var surface = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var typeHandle in reader.TypeDefinitions)
        {
            var type = reader.GetTypeDefinition(typeHandle);
            var visibility = type.Attributes & TypeAttributes.VisibilityMask;
            if (visibility != TypeAttributes.Public && visibility != TypeAttributes.NestedPublic) continue;
            string name = TypeName(reader, type);
            surface.Add($"T {name} : {Attributes(reader, type.GetCustomAttributes())}");
            foreach (var h in type.GetFields())
            {
                var field = reader.GetFieldDefinition(h);
                if ((field.Attributes & FieldAttributes.FieldAccessMask) == FieldAttributes.Public)
                    surface.Add($"F {name}.{reader.GetString(field.Name)} {Attributes(reader, field.GetCustomAttributes())}");
            }
            foreach (var h in type.GetProperties())
            {
                var property = reader.GetPropertyDefinition(h);
                surface.Add($"P {name}.{reader.GetString(property.Name)} {Attributes(reader, property.GetCustomAttributes())}");
            }
            foreach (var h in type.GetEvents()) surface.Add($"E {name}.{reader.GetString(reader.GetEventDefinition(h).Name)}");
            foreach (var h in type.GetMethods())
            {
                var method = reader.GetMethodDefinition(h);
                if ((method.Attributes & MethodAttributes.MemberAccessMask) != MethodAttributes.Public) continue;
                surface.Add($"M {name}.{reader.GetString(method.Name)}/{method.GetParameters().Count}");
            }
        }
        return surface;
    }

    private static string TypeName(MetadataReader reader, TypeDefinition type)
    {
        string name = reader.GetString(type.Name);
        if (type.GetDeclaringType() is { IsNil: false } outer) return TypeName(reader, reader.GetTypeDefinition(outer)) + "+" + name;
        string ns = reader.GetString(type.Namespace);
        return ns.Length == 0 ? name : ns + "." + name;
    }

    private static string Attributes(MetadataReader reader, CustomAttributeHandleCollection handles)
    {
        var parts = new List<string>();
        foreach (var handle in handles)
        {
            var attribute = reader.GetCustomAttribute(handle);
            string type = AttributeTypeName(reader, attribute);
            if (type.StartsWith("System.Runtime.CompilerServices.", StringComparison.Ordinal)) continue; // compiler bookkeeping (nullable)
            parts.Add(type + "(" + Convert.ToHexString(reader.GetBlobBytes(attribute.Value)) + ")");
        }
        parts.Sort(StringComparer.Ordinal);
        return string.Join(",", parts);
    }

    private static string AttributeTypeName(MetadataReader reader, CustomAttribute attribute)
    {
        EntityHandle parent = attribute.Constructor.Kind == HandleKind.MemberReference
            ? reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent
            : reader.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor).GetDeclaringType();
        return parent.Kind switch
        {
            HandleKind.TypeReference => reader.GetString(reader.GetTypeReference((TypeReferenceHandle)parent).Namespace) + "." +
                                        reader.GetString(reader.GetTypeReference((TypeReferenceHandle)parent).Name),
            HandleKind.TypeDefinition => TypeName(reader, reader.GetTypeDefinition((TypeDefinitionHandle)parent)),
            _ => "?",
        };
    }

    // ---- the package's files ----

#pragma warning disable CA5351 // MD5 makes a name here (as make_meta.py does), not a security decision
    private static string StableGuid(string relative) =>
        Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes("com.ediffi.bridge/" + relative)));
#pragma warning restore CA5351

    [GeneratedRegex(@"^guid: ([0-9a-f]{32})\s*$", RegexOptions.Multiline)]
    private static partial Regex GuidLine();

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Framework.sln"))) return dir.FullName;
        throw new InvalidOperationException("Framework.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>An assembly definition (.asmdef) of the package: what Unity compiles as one assembly.</summary>
    private sealed record AssemblyDefinition(string Name, string[] References, string[] IncludePlatforms, bool OverrideReferences,
        string[] PrecompiledReferences, bool AutoReferenced, string[] Sources)
    {
        public static List<AssemblyDefinition> InBuildOrder(string package)
        {
            var all = Directory.GetFiles(package, "*.asmdef", SearchOption.AllDirectories).Select(Read).ToList();
            var ordered = new List<AssemblyDefinition>();
            while (ordered.Count < all.Count)
            {
                var next = all.FirstOrDefault(a => !ordered.Contains(a) && a.References.All(r => ordered.Any(o => o.Name == r)))
                           ?? throw new InvalidOperationException("the assembly definitions reference each other in a cycle, or name one the package lacks");
                ordered.Add(next);
            }
            return ordered;
        }

        private static AssemblyDefinition Read(string path)
        {
            using var json = JsonDocument.Parse(File.ReadAllText(path));
            var root = json.RootElement;
            string[] Strings(string key) => root.TryGetProperty(key, out var value) ? value.EnumerateArray().Select(v => v.GetString()!).ToArray() : [];
            bool Flag(string key, bool otherwise) => root.TryGetProperty(key, out var value) ? value.GetBoolean() : otherwise;
            string folder = Path.GetDirectoryName(path)!;
            return new AssemblyDefinition(root.GetProperty("name").GetString()!, Strings("references"), Strings("includePlatforms"),
                Flag("overrideReferences", false), Strings("precompiledReferences"), Flag("autoReferenced", true),
                Directory.GetFiles(folder, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray());
        }
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("ediffi-unity-check-").FullName;

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }
}
