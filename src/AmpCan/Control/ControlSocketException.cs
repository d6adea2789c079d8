namespace AmpCan.Host.Control;

/// <summary>The control socket cannot be set up as configured; the message names the path or key and the reason.</summary>
public sealed class ControlSocketException(string message) : Exception(message);
