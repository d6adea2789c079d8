namespace AmpCan.Remoteproc.Firmware;

/// <summary>A firmware image is malformed, hostile or does not fit the memory map; the message names the header, the field and the value.</summary>
public sealed class FirmwareException(string message) : Exception(message);
