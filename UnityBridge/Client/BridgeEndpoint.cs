using System;
using System.IO;
using System.Runtime.InteropServices;

namespace EDiffI.Bridge;

/// <summary>How a client reaches a host.</summary>
public enum BridgeTransport
{
    /// <summary>A Unix domain socket in a per-user folder (macOS, Linux).</summary>
    UnixSocket = 0,

    /// <summary>TCP on 127.0.0.1 with the token from the user's token file (Windows: Unity's Mono cannot open Unix sockets there).</summary>
    Tcp = 1,
}

/// <summary>
/// Where a host listens: a Unix domain socket (the default on macOS and Linux, in a per-user folder
/// only its owner can open), or TCP on the loopback interface with a token from the user's token
/// file (the default on Windows).
/// </summary>
public sealed class BridgeEndpoint
{
    /// <summary>File name of the socket inside the bridge folder.</summary>
    public const string SocketFileName = "bridge.sock";

    /// <summary>File name of the TCP token inside the bridge folder.</summary>
    public const string TokenFileName = "bridge.token";

    /// <summary>The loopback port a host listens on by default on Windows (<c>serve --tcp</c> picks another).</summary>
    public const int DefaultTcpPort = 47812;

    private BridgeEndpoint(string? socketPath, int tcpPort, string? token, string? tokenPath)
    {
        SocketPath = socketPath;
        TcpPort = tcpPort;
        Token = token;
        TokenPath = tokenPath;
    }

    /// <summary>The Unix socket's path; null for TCP.</summary>
    public string? SocketPath { get; }

    /// <summary>The loopback TCP port; 0 for a Unix socket.</summary>
    public int TcpPort { get; }

    /// <summary>The TCP token; null to read it from <see cref="TokenPath"/> when connecting.</summary>
    public string? Token { get; }

    /// <summary>The file the TCP token is read from when <see cref="Token"/> is null (<see cref="DefaultTokenPath"/> unless set); null for a Unix socket.</summary>
    public string? TokenPath { get; }

    /// <summary>How this endpoint is reached.</summary>
    public BridgeTransport Transport => SocketPath is null ? BridgeTransport.Tcp : BridgeTransport.UnixSocket;

    /// <summary>The transport a client uses unless told otherwise: TCP on Windows, a Unix socket elsewhere.</summary>
    public static BridgeTransport DefaultTransport =>
        RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? BridgeTransport.Tcp : BridgeTransport.UnixSocket;

    /// <summary>The endpoint of a host started with default settings: see <see cref="DefaultTransport"/>.</summary>
    public static BridgeEndpoint Default() => DefaultTransport == BridgeTransport.Tcp ? Tcp(DefaultTcpPort) : Unix();

    /// <summary>The Unix socket at <paramref name="path"/>, or at <see cref="DefaultSocketPath"/>.</summary>
    public static BridgeEndpoint Unix(string? path = null) => new(string.IsNullOrEmpty(path) ? DefaultSocketPath() : path, 0, null, null);

    /// <summary>
    /// TCP on 127.0.0.1:<paramref name="port"/>; without <paramref name="token"/> the token is read when
    /// connecting from <paramref name="tokenPath"/>, by default the user's token file.
    /// </summary>
    public static BridgeEndpoint Tcp(int port, string? token = null, string? tokenPath = null)
    {
        if (port <= 0 || port > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, "a TCP port is 1 to 65535");
        return new BridgeEndpoint(null, port, token, string.IsNullOrEmpty(tokenPath) ? DefaultTokenPath() : tokenPath);
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
