using System;
using System.IO;
using EDiffI.Bridge.Protocol;
using NATS.Client.Core;

namespace EDiffI.Bridge.Farm;

/// <summary>
/// How to reach a farm's NATS server, with the credentials NATS supports: a user with a password, a token, an NKey
/// seed, or a credentials file (JWT and seed), and TLS. A secret is never a plain value here: passwords and tokens
/// come from a file or from the environment variables <see cref="PasswordVariable"/> and <see cref="TokenVariable"/>,
/// so none has to appear on a command line. The host binds these from its configuration section <c>Farm</c>.
/// </summary>
public sealed class FarmConnectOptions
{
    /// <summary>The environment variable a password is read from when <see cref="PasswordFile"/> is not set.</summary>
    public const string PasswordVariable = "EDIFFI_NATS_PASSWORD";

    /// <summary>The environment variable a token is read from when <see cref="TokenFile"/> is not set.</summary>
    public const string TokenVariable = "EDIFFI_NATS_TOKEN";

    /// <summary>The server, <c>nats://host:4222</c> or <c>tls://host:4222</c> (several separated by commas). No credentials in it.</summary>
    public string Url { get; set; } = "nats://127.0.0.1:4222";

    /// <summary>The user name, with a password from <see cref="PasswordFile"/> or <see cref="PasswordVariable"/>.</summary>
    public string? User { get; set; }

    /// <summary>A file holding the password (its first line).</summary>
    public string? PasswordFile { get; set; }

    /// <summary>A file holding the token (its first line); else <see cref="TokenVariable"/> when set.</summary>
    public string? TokenFile { get; set; }

    /// <summary>A NATS credentials file (<c>.creds</c>: a user JWT and its NKey seed).</summary>
    public string? CredsFile { get; set; }

    /// <summary>A file holding an NKey user seed (<c>SU…</c>).</summary>
    public string? NKeyFile { get; set; }

    /// <summary>PEM file of the certificate authorities to trust; setting it (or a client certificate) requires TLS.</summary>
    public string? CaFile { get; set; }

    /// <summary>A client certificate with its key as PKCS#12 (<c>.p12</c>, <c>.pfx</c>), for servers that verify clients.</summary>
    public string? CertBundleFile { get; set; }

    /// <summary>A file holding the password of <see cref="CertBundleFile"/>, when it has one.</summary>
    public string? CertBundlePasswordFile { get; set; }

    /// <summary>The connection's name as the server's monitoring shows it.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// The NATS client options these settings describe, with secrets read from their files or variables.
    /// </summary>
    /// <exception cref="BridgeException">Code <see cref="ErrorCodes.FarmSettings"/>: the address carries credentials, a file is missing or empty, or settings contradict each other.</exception>
    public NatsOpts ToNatsOpts(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (string.IsNullOrWhiteSpace(Url)) throw Problem("The farm address is empty; give nats://host:4222.");
        foreach (string one in Url.Split(','))
        {
            if (!Uri.TryCreate(one.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("nats" or "tls" or "ws" or "wss"))
                throw Problem($"The farm address '{one.Trim()}' is not a nats://host:port (or tls://, ws://, wss://) address.");
            if (!string.IsNullOrEmpty(uri.UserInfo))
                throw Problem("The farm address carries credentials; put the user in the settings and the password or token in a file or in "
                    + $"{PasswordVariable} / {TokenVariable}, so that no secret is written on a command line.");
        }

        string? password = Secret(PasswordFile, PasswordVariable, "password", environment);
        string? token = Secret(TokenFile, TokenVariable, "token", environment);
        int kinds = (User is null ? 0 : 1) + (token is null ? 0 : 1) + (CredsFile is null ? 0 : 1) + (NKeyFile is null ? 0 : 1);
        if (kinds > 1) throw Problem("Give one kind of farm credential: a user with a password, a token, an NKey seed file or a credentials file.");
        if (User is null && PasswordFile is not null) throw Problem("A farm password file is given without a user.");
        if (User is not null && password is null) throw Problem($"The farm user '{User}' needs a password: a password file or {PasswordVariable}.");
        RequireFile(CredsFile, "credentials file");
        RequireFile(NKeyFile, "NKey seed file");
        RequireFile(CaFile, "CA certificate file");
        RequireFile(CertBundleFile, "client certificate file");
        if (CertBundleFile is null && CertBundlePasswordFile is not null) throw Problem("A farm client certificate password file is given without the certificate.");
        string? bundlePassword = CertBundlePasswordFile is null ? null : Secret(CertBundlePasswordFile, "", "client certificate password", environment);

        var auth = NatsAuthOpts.Default with
        {
            Username = User,
            Password = User is null ? null : password,
            Token = token,
            CredsFile = CredsFile,
            NKeyFile = NKeyFile,
        };
        var tls = NatsTlsOpts.Default;
        if (CaFile is not null || CertBundleFile is not null)
            tls = tls with { Mode = TlsMode.Require, CaFile = CaFile, CertBundleFile = CertBundleFile, CertBundleFilePassword = bundlePassword };
        return NatsOpts.Default with
        {
            Url = Url,
            Name = Name ?? "ediffi",
            AuthOpts = auth,
            TlsOpts = tls,
            // A worker outlives server restarts; a first connect that fails is reported instead of retried forever.
            MaxReconnectRetry = -1,
        };
    }

    private static string? Secret(string? file, string variable, string what, Func<string, string?> environment)
    {
        if (file is not null)
        {
            RequireFile(file, what + " file");
            string first = File.ReadAllText(file).Split('\n')[0].Trim();
            if (first.Length == 0) throw Problem($"The farm {what} file '{file}' is empty.");
            return first;
        }
        string? value = environment(variable);
        return string.IsNullOrEmpty(value) ? null : value;
    }

    private static void RequireFile(string? path, string what)
    {
        if (path is not null && !File.Exists(path)) throw Problem($"The farm {what} '{path}' does not exist.");
    }

    private static BridgeException Problem(string message) => new(ErrorCodes.FarmSettings, message);
}
