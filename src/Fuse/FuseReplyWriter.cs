using AmpCan.Fuse.Wire;
using AmpCan.SharedMem;
using Microsoft.Extensions.Logging;

namespace AmpCan.Fuse;

/// <summary>
/// Writes replies and notifications to the device, from any thread (the kernel takes each write(2) whole). A failed
/// write is logged and costs that one reply: the kernel answers ENOENT when the caller already left (interrupted or
/// aborted), which is normal.
/// </summary>
public sealed class FuseReplyWriter
{
    private readonly FuseDevice _device;
    private readonly ILogger _logger;
    private long _failedWrites;

    /// <summary>Writes through <paramref name="device"/>, logging failures to <paramref name="logger"/>.</summary>
    public FuseReplyWriter(FuseDevice device, ILogger logger)
    {
        _device = device;
        _logger = logger;
    }

    /// <summary>
    /// The most bytes an ioctl may move each way (the kernel's max_pages pages): what <see cref="FuseReply.IoctlRetry"/>
    /// checks a retry's iovecs against. Set by the server when INIT is answered.
    /// </summary>
    public int MaxIoctlBytes { get; internal set; } = FuseProtocol.DefaultMaxPages * 4096;

    /// <summary>Replies that could not be written (the caller had gone, or the device failed).</summary>
    public long FailedWrites => Interlocked.Read(ref _failedWrites);

    /// <summary>Writes a reply to <paramref name="unique"/>: <paramref name="error"/> (0 or -errno) and <paramref name="body"/>.</summary>
    public bool Reply(ulong unique, int error, ReadOnlySpan<byte> body)
    {
        Span<byte> header = stackalloc byte[FuseOutHeader.Size];
        new FuseOutHeader((uint)(FuseOutHeader.Size + body.Length), error, unique).Write(header);
        int n = _device.Write(header, body);
        if (n == FuseOutHeader.Size + body.Length) return true;
        Interlocked.Increment(ref _failedWrites);
        // ENOENT: the request was interrupted or aborted before our answer; anything else is worth a warning.
        if (n == -2) _logger.LogDebug("FUSE reply to request {Unique} found no waiter (interrupted)", unique);
        else _logger.LogWarning("FUSE reply to request {Unique} failed: {Result}", unique, Describe(n));
        return false;
    }

    /// <summary>Writes FUSE_NOTIFY_POLL for <paramref name="kernelHandle"/>, waking the pollers behind it.</summary>
    public bool NotifyPoll(ulong kernelHandle)
    {
        Span<byte> body = stackalloc byte[FuseNotifyPollWakeupOut.Size];
        new FuseNotifyPollWakeupOut(kernelHandle).Write(body);
        Span<byte> header = stackalloc byte[FuseOutHeader.Size];
        new FuseOutHeader((uint)(FuseOutHeader.Size + body.Length), (int)FuseNotifyCode.Poll, 0).Write(header);
        int n = _device.Write(header, body);
        if (n == header.Length + body.Length) return true;
        Interlocked.Increment(ref _failedWrites);
        _logger.LogWarning("FUSE poll notification for kh {Kh} failed: {Result}", kernelHandle, Describe(n));
        return false;
    }

    /// <summary>Tells why a handler's ioctl retry was refused (a hostile caller's lengths, or a handler bug).</summary>
    internal void RefusedRetry(ulong unique, uint command, string why, int errno) =>
        _logger.LogWarning("FUSE ioctl {Command:X8} (request {Unique}): retry refused, answered errno {Errno}: {Why}", command, unique, errno, why);

    private static string Describe(int n) => n < 0 ? $"errno {-n}" : $"short write of {n} bytes";
}
