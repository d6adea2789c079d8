namespace AmpCan.Remoteproc;

/// <summary>A resource table (from firmware or a live remote) is malformed; the message names the entry and the field.</summary>
public sealed class ResourceTableException(string message) : Exception(message);
