using System.Net.Sockets;
using System.Security.Cryptography;
using EDiffI.Host.Runtime;

namespace EDiffI.Host.Bridge;

/// <summary>
/// The bridge's files and their permissions: the socket's folder is the user's own and closed to
/// everyone else (0700), the socket and the TCP token file are owner-only (0600). On Windows the
/// per-user profile folder's access control plays that part.
/// </summary>
public static class BridgeSocketFiles
{
    /// <summary>The permissions the socket's folder must have: owner only.</summary>
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The permissions of the socket and token files.</summary>
    public const UnixFileMode OwnerOnlyFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode OthersBits = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
                                            UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Makes the socket's folder (owner-only) or checks an existing one; binds and listens; makes the socket file owner-only.</summary>
    public static Socket BindUnix(string path)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? throw new UserException($"'{path}' has no folder.");
        PrepareFolder(folder);
        if (System.Text.Encoding.UTF8.GetByteCount(full) > 100)
            throw new UserException($"The socket path {full} is {System.Text.Encoding.UTF8.GetByteCount(full)} bytes long; Unix sockets allow about 100. Choose a shorter --socket path.");
        RemoveStale(full);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(full));
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(full, OwnerOnlyFileMode);
            socket.Listen(128);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new UserException(e.SocketErrorCode == SocketError.AccessDenied
                ? $"Cannot create the socket at {full}: the folder {folder} is not writable by this user. Choose another with --socket <path>."
                : $"Cannot create the socket at {full} ({e.Message}). Choose another with --socket <path>.", e);
        }
    }

    /// <summary>Writes a fresh random token (256 bits, hex) to <paramref name="path"/>, readable by the user only; returns it.</summary>
    public static string WriteToken(string path)
    {
        string full = Path.GetFullPath(path);
        PrepareFolder(Path.GetDirectoryName(full)!);
        string token = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        try
        {
            File.Delete(full); // a new file gets the owner-only mode from its creation on
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnlyFileMode;
            using var stream = new FileStream(full, options);
            using var writer = new StreamWriter(stream);
            writer.Write(token);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserException($"Cannot write the TCP token file {full} ({e.Message}).", e);
        }
        return token;
    }

    /// <summary>Deletes a file if it is there, ignoring failures (used when the server stops).</summary>
    public static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static void PrepareFolder(string folder)
    {
        try
        {
            if (!Directory.Exists(folder))
            {
                if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
                else Directory.CreateDirectory(folder, FolderMode);
                return;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserException($"Cannot create the socket folder {folder} ({e.Message}). Choose another place with --socket <path>.", e);
        }
        if (OperatingSystem.IsWindows()) return;
        var mode = File.GetUnixFileMode(folder);
        if ((mode & OthersBits) != 0)
            throw new UserException(
                $"The socket folder {folder} is open to other users (mode {Convert.ToString((int)mode, 8)}); the bridge only listens in a folder only you can open. " +
                $"Run `chmod 700 {folder}` or choose another with --socket <path>.");
    }

    private static void RemoveStale(string full)
    {
        if (!File.Exists(full)) return;
        if ((File.GetAttributes(full) & FileAttributes.Directory) != 0) throw new UserException($"{full} is a folder, not a socket.");
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(full));
                throw new UserException($"Another host is already serving at {full}. Stop it, or choose another with --socket <path>.");
            }
            catch (SocketException)
            {
                // Nobody listens: a file left by a host that stopped without cleaning up, or not a socket at all.
            }
        }
        try
        {
            // open() of a socket fails; a regular file opens, and is never deleted to make room.
            using (File.OpenRead(full)) { }
            throw new UserException($"{full} exists and is not a socket; refusing to replace it. Choose another --socket path.");
        }
        catch (IOException)
        {
            // A socket file.
        }
        try
        {
            File.Delete(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserException($"A stale socket file {full} is in the way and cannot be removed ({e.Message}).", e);
        }
    }
}
