namespace AmpCan.Vring;

/// <summary>A virtio device could not be brought up: wrong device, features refused, a transport that does not fit.</summary>
public sealed class VirtioException(string message, Exception? inner = null) : Exception(message, inner);
