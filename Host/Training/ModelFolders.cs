namespace EDiffI.Host.Training;

/// <summary>File work shared by the trainers when they write model folders.</summary>
internal static class ModelFolders
{
    /// <summary>Copies <paramref name="from"/> into <paramref name="to"/> with every subfolder, replacing files that are there.</summary>
    public static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        foreach (var dir in Directory.GetDirectories(from)) Copy(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
