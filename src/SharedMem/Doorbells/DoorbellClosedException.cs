namespace AmpCan.SharedMem.Doorbells;

/// <summary>
/// The peer closed its end of a doorbell (end of stream, EPIPE, ECONNRESET): an ordinary event, "the peer is gone",
/// not a fault of ours. The loop stops watching the doorbell; a sender treats the peer as departed.
/// </summary>
public sealed class DoorbellClosedException(string message) : IOException(message);
