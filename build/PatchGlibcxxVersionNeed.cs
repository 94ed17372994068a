// MSBuild task: makes TorchSharp's native library load where libstdc++ lacks GLIBCXX_3.4.32.
// See TorchSharpNativeFix.targets for why. ELF64 little-endian layout per the System V gABI and
// the GNU symbol-versioning extension (Elf64_Verneed / Elf64_Vernaux).
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class PatchGlibcxxVersionNeed : Task
{
    [Required] public string Folder { get; set; } = "";

    private const string Wanted = "GLIBCXX_3.4.32";
    private const string Replacement = "GLIBCXX_3.4";
    private const uint ShtGnuVerneed = 0x6ffffffe;

    public override bool Execute()
    {
        if (!Directory.Exists(Folder)) return true;
        string[] libs = Directory.GetFiles(Folder, "libLibTorchSharp.so", SearchOption.AllDirectories);
        if (libs.Length == 0) return true;
        if (SystemHasVersion(Wanted)) return true;
        foreach (string lib in libs)
        {
            try
            {
                string result = PatchFile(lib);
                Log.LogMessage(MessageImportance.Normal, "EDiffI: " + lib + ": " + result);
            }
            catch (Exception e)
            {
                Log.LogWarning("EDiffI: could not patch " + lib + " for this system's libstdc++: " + e.Message);
            }
        }
        return true;
    }

    private static bool SystemHasVersion(string version)
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        };
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        foreach (string path in candidates)
        {
            if (!File.Exists(path)) continue;
            byte[] data = File.ReadAllBytes(path);
            return IndexOf(data, needle, 0) >= 0;
        }
        return true; // Unknown layout: leave the library as shipped.
    }

    private static string PatchFile(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
            return "not a little-endian ELF64 file, left alone";
        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28);
            int count = (int)BitConverter.ToUInt32(elf, (int)sh + 0x2C); // sh_info: number of Verneed entries
            long strOffset = (long)BitConverter.ToUInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);
            return PatchVerneed(path, elf, offset, count, strOffset);
        }
        return "no .gnu.version_r section, left alone";
    }

    private static string PatchVerneed(string path, byte[] elf, long offset, int count, long strOffset)
    {
        long need = offset;
        for (int n = 0; n < count; n++)
        {
            int auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
            string file = ReadString(elf, strOffset + BitConverter.ToUInt32(elf, (int)need + 4));
            if (file == "libstdc++.so.6")
            {
                long wantedAux = -1, replacementAux = -1;
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = ReadString(elf, strOffset + BitConverter.ToUInt32(elf, (int)aux + 8));
                    if (name == Wanted) wantedAux = aux;
                    if (name == Replacement) replacementAux = aux;
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                if (wantedAux < 0) return "does not need " + Wanted + " (already patched or another build)";
                if (replacementAux < 0) return "has no " + Replacement + " entry to borrow, left alone";
                // Copy the hash (offset 0) and the name offset (offset 8) of the GLIBCXX_3.4 entry.
                Array.Copy(elf, replacementAux, elf, wantedAux, 4);
                Array.Copy(elf, replacementAux + 8, elf, wantedAux + 8, 4);
                string temp = path + ".patching";
                File.WriteAllBytes(temp, elf);
                File.Copy(temp, path, true);
                File.Delete(temp);
                return "version need " + Wanted + " rewritten to " + Replacement;
            }
            need += BitConverter.ToUInt32(elf, (int)need + 12);
        }
        return "does not need libstdc++.so.6 versions, left alone";
    }

    private static string ReadString(byte[] data, long start)
    {
        long end = start;
        while (end < data.Length && data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, (int)start, (int)(end - start));
    }

    private static int IndexOf(byte[] data, byte[] needle, int from)
    {
        for (int i = from; i <= data.Length - needle.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && data[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }
}
