namespace AmpCan.Remoteproc.Boards;

/// <summary>A board file is missing or wrong; the message names the file and the field.</summary>
public sealed class BoardException(string message) : Exception(message);
