namespace AmpCan.RpmsgChar;

/// <summary>
/// One open of an endpoint device (a <c>struct file</c>): what a front end calls for each request on it. Every call but
/// <see cref="Poll"/> and <see cref="Ioctl"/> answers through <see cref="Replies"/> exactly once, now or later.
/// </summary>
public sealed class RpmsgCharFile
{
    internal RpmsgCharFile(RpmsgEndpointDevice device, IRpmsgCharReplies replies)
    {
        Device = device;
        Replies = replies;
    }

    /// <summary>The device opened.</summary>
    public RpmsgEndpointDevice Device { get; }

    /// <summary>Where answers go.</summary>
    public IRpmsgCharReplies Replies { get; }

    /// <summary>read(2) of at most <paramref name="size"/> bytes: one message (the rest of a longer one discarded), EAGAIN when non-blocking and empty, EPIPE once the endpoint is gone.</summary>
    public void Read(ulong token, int size, bool nonBlocking) => Device.Read(this, token, size, nonBlocking);

    /// <summary>write(2): one message to the device's destination; EMSGSIZE over the MTU, EAGAIN when non-blocking and no buffer is free.</summary>
    public void Write(ulong token, ReadOnlySpan<byte> data, bool nonBlocking) => Device.Write(this, token, data, nonBlocking);

    /// <summary>poll(2): the events ready now; with <paramref name="scheduleNotify"/> <see cref="IRpmsgCharReplies.PollReady"/> follows the next change.</summary>
    public uint Poll(ulong pollHandle, bool scheduleNotify) => Device.Poll(this, pollHandle, scheduleNotify);

    /// <summary>ioctl(2): 0 or -errno; <paramref name="output"/> gets what the command writes to its pointer argument.</summary>
    public int Ioctl(uint command, ulong argument, Span<byte> output, out int outputLength) =>
        Device.Ioctl(this, command, argument, output, out outputLength);

    /// <summary>A signal reached the caller of <paramref name="token"/>: a pending read or write answers EINTR.</summary>
    public void Interrupt(ulong token) => Device.Interrupt(this, token);

    /// <summary>The last close: the endpoint made at open is destroyed and queued messages are discarded.</summary>
    public void Release() => Device.Release(this);
}
