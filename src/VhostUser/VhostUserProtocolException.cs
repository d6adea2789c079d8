namespace AmpCan.VhostUser;

/// <summary>
/// The front end broke the protocol. A request error is answered (a non-zero REPLY_ACK, an empty GET_CONFIG reply)
/// where the front end asked for an answer and closes the connection otherwise; a framing error always closes it.
/// </summary>
public sealed class VhostUserProtocolException(string message, bool closeConnection = false) : Exception(message)
{
    /// <summary>True when the stream cannot be trusted any more (bad header, short message): the connection is closed.</summary>
    public bool CloseConnection { get; } = closeConnection;
}
