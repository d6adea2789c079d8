namespace AmpCan.RpmsgChar;

/// <summary>
/// How a front end answers a call that did not finish at once (a blocking read, a write waiting for a transmit
/// buffer) and wakes pollers. Called from any thread (the device's loop, a sender); <c>token</c> is what the front end
/// passed with the call (FUSE's request id).
/// </summary>
public interface IRpmsgCharReplies
{
    /// <summary>A pending read got a message: <paramref name="data"/> is already cut to the size asked for.</summary>
    void ReadDone(ulong token, ReadOnlySpan<byte> data);

    /// <summary>A pending write sent its <paramref name="count"/> bytes.</summary>
    void WriteDone(ulong token, int count);

    /// <summary>A pending call failed with <paramref name="errno"/> (positive).</summary>
    void Failed(ulong token, int errno);

    /// <summary>Something a poller waits for changed: wake the pollers behind <paramref name="pollHandle"/>.</summary>
    void PollReady(ulong pollHandle);
}
