namespace EDiffI.Host.Runtime;

/// <summary>An error the user caused and can fix; the CLI prints its message without a stack trace.</summary>
public sealed class UserException(string message, Exception? inner = null) : Exception(message, inner);
