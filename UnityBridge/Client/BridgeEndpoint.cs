using System;
using System.IO;
using System.Runtime.InteropServices;

namespace EDiffI.Bridge;

/// <summary>
/// Where a host listens: a Unix domain socket (the default, in a per-user folder only its owner can
/// open), or TCP on the loopback interface with a token from the user's token file.
/// </summary>
public sealed class BridgeEndpoint
{
    /// <summary>File name of the socket inside the bridge folder.</summary>
    public const string SocketFileName = "bridge.sock";

    /// <summary>File name of the TCP token inside the bridge folder.</summary>
    public const string TokenFileName = "bridge.token";

    private BridgeEndpoint(string? socketPath, int tcpPort, string? token)
    {
        SocketPath = socketPath;
        TcpPort = tcpPort;
        Token = token;
    }

    /// <summary>The Unix socket's path; null for TCP.</summary>
    public string? SocketPath { get; }

    /// <summary>The loopback TCP port; 0 for a Unix socket.</summary>
    public int TcpPort { get; }

    /// <summary>The TCP token; null to read it from <see cref="DefaultTokenPath"/> when connecting.</summary>
    public string? Token { get; }

    /// <summary>The Unix socket at <paramref name="path"/>, or at <see cref="DefaultSocketPath"/>.</summary>
    public static BridgeEndpoint Unix(string? path = null) => new(string.IsNullOrEmpty(path) ? DefaultSocketPath() : path, 0, null);

    /// <summary>TCP on 127.0.0.1:<paramref name="port"/>; the token defaults to the user's token file.</summary>
    public static BridgeEndpoint Tcp(int port, string? token = null)
    {
        if (port <= 0 || port > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, "a TCP port is 1 to 65535");
        return new BridgeEndpoint(null, port, token);
    }

    /// <summary>
    /// The per-user bridge folder: $XDG_RUNTIME_DIR/ediffi where that is set (Linux), else ~/.ediffi
    /// (macOS, Linux without a runtime folder), and %LOCALAPPDATA%\EDiffI on Windows.
    /// </summary>
    public static string DefaultDirectory()
    {
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "EDiffI");
        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!string.IsNullOrEmpty(runtime) && Directory.Exists(runtime)) return Path.Combine(runtime, "ediffi");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ediffi");
    }

    /// <summary>The default socket path: <see cref="SocketFileName"/> in <see cref="DefaultDirectory"/>.</summary>
    public static string DefaultSocketPath() => Path.Combine(DefaultDirectory(), SocketFileName);

    /// <summary>The default token file: <see cref="TokenFileName"/> in <see cref="DefaultDirectory"/>.</summary>
    public static string DefaultTokenPath() => Path.Combine(DefaultDirectory(), TokenFileName);

    /// <inheritdoc />
    public override string ToString() => SocketPath ?? $"tcp://127.0.0.1:{TcpPort}";
}

/// <summary>A failure the client reports: a host-side error reply or a connection problem, with a stable code.</summary>
public sealed class BridgeException : Exception
{
    /// <summary>A failure with a code from <see cref="Protocol.ErrorCodes"/> and a message for a person.</summary>
    public BridgeException(string code, string message, Exception? inner = null) : base(message, inner) => Code = code;

    /// <summary>A failure with code <see cref="Protocol.ErrorCodes.Internal"/>.</summary>
    public BridgeException() : this(Protocol.ErrorCodes.Internal, "bridge failure") { }

    /// <summary>A failure with code <see cref="Protocol.ErrorCodes.Internal"/>.</summary>
    public BridgeException(string message) : this(Protocol.ErrorCodes.Internal, message) { }

    /// <summary>A failure with code <see cref="Protocol.ErrorCodes.Internal"/> and a cause.</summary>
    public BridgeException(string message, Exception inner) : this(Protocol.ErrorCodes.Internal, message, inner) { }

    /// <summary>The error code (see <see cref="Protocol.ErrorCodes"/>).</summary>
    public string Code { get; }
}
