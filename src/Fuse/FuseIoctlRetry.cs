using AmpCan.Fuse.Wire;

namespace AmpCan.Fuse;

/// <summary>
/// The rules of an unrestricted ioctl's retry (fs/fuse/ioctl.c, fuse_do_ioctl): CUSE passes ioctls with
/// FUSE_IOCTL_UNRESTRICTED and no data, and the server names the caller's buffers it wants copied in and out
/// (addresses in the caller's memory); the kernel then resends the request with the input bytes and room for the
/// output. What the kernel would refuse is refused here first, with the errno the caller would have got.
/// </summary>
public static class FuseIoctlRetry
{
    private const int EIO = 5, ENOMEM = 12;
    private const int IocSizeShift = 16, IocSizeBits = 14, IocDirectionShift = 30;
    private const uint IocWrite = 1, IocRead = 2;

    /// <summary>
    /// True when <paramref name="request"/> is an unrestricted first round (no data either way) of a command whose
    /// number encodes a size and direction (_IOW/_IOR/_IOWR): answer it with <see cref="FuseReply.IoctlRetryEncoded"/>
    /// to get what a restricted ioctl (a FUSE file) gets at once.
    /// </summary>
    public static bool WantsEncodedData(in FuseIoctlIn request) =>
        (request.Flags & FuseIoctlFlags.Unrestricted) != 0 && request.InSize == 0 && request.OutSize == 0
        && EncodedSize(request.Command) > 0 && EncodedDirection(request.Command) != 0;

    /// <summary>_IOC_SIZE of <paramref name="command"/>: the bytes its argument points to.</summary>
    public static int EncodedSize(uint command) => (int)((command >> IocSizeShift) & ((1u << IocSizeBits) - 1));

    /// <summary>_IOC_DIR of <paramref name="command"/>: 1 write (caller to driver), 2 read, 3 both, 0 none.</summary>
    public static uint EncodedDirection(uint command) => command >> IocDirectionShift;

    /// <summary>
    /// The iovecs a restricted ioctl gets for <paramref name="request"/>'s command: its argument and _IOC_SIZE in if
    /// _IOC_WRITE, out if _IOC_READ. Returns the counts written to <paramref name="input"/> and <paramref name="output"/> (0 or 1 each).
    /// </summary>
    public static (int In, int Out) EncodedIovecs(in FuseIoctlIn request, Span<FuseIoctlIovec> input, Span<FuseIoctlIovec> output)
    {
        var iovec = new FuseIoctlIovec(request.Argument, (ulong)EncodedSize(request.Command));
        uint direction = EncodedDirection(request.Command);
        int i = 0, o = 0;
        if ((direction & IocWrite) != 0) input[i++] = iovec;
        if ((direction & IocRead) != 0) output[o++] = iovec;
        return (i, o);
    }

    /// <summary>
    /// 0 when the kernel would take a retry of <paramref name="request"/> with these iovecs, else the errno the caller
    /// would get and <paramref name="why"/>: EIO for a restricted request (no retry allowed) or a 32-bit caller's
    /// address or length beyond 32 bits or a retry asking for exactly what the request carries (the kernel would
    /// loop for ever), ENOMEM for more than FUSE_IOCTL_MAX_IOV iovecs or more than
    /// <paramref name="maxBytes"/> either way.
    /// </summary>
    public static int Check(in FuseIoctlIn request, ReadOnlySpan<FuseIoctlIovec> input, ReadOnlySpan<FuseIoctlIovec> output,
        int maxBytes, out string why)
    {
        why = "";
        if ((request.Flags & FuseIoctlFlags.Unrestricted) == 0)
        {
            why = "the request is restricted (not CUSE with CUSE_UNRESTRICTED_IOCTL): the kernel allows no retry";
            return EIO;
        }
        if (input.Length + output.Length > FuseIoctlFlags.MaxIov)
        {
            why = $"{input.Length} in and {output.Length} out iovecs, more than FUSE_IOCTL_MAX_IOV ({FuseIoctlFlags.MaxIov})";
            return ENOMEM;
        }
        bool compat = (request.Flags & FuseIoctlFlags.Compat) != 0;
        int errno = CheckDirection(input, "in", compat, maxBytes, ref why);
        if (errno == 0) errno = CheckDirection(output, "out", compat, maxBytes, ref why);
        if (errno == 0 && Total(input) == request.InSize && Total(output) == request.OutSize)
        {
            // The kernel sets no bound on rounds: asking again for what this round carries would never end.
            why = $"the retry asks for what the request already carries ({request.InSize} in, {request.OutSize} out): it would never end";
            return EIO;
        }
        return errno;
    }

    private static ulong Total(ReadOnlySpan<FuseIoctlIovec> iovecs)
    {
        ulong total = 0;
        foreach (var v in iovecs) total += v.Length; // bounded by maxBytes once checked
        return total;
    }

    private static int CheckDirection(ReadOnlySpan<FuseIoctlIovec> iovecs, string direction, bool compat, int maxBytes, ref string why)
    {
        ulong left = (ulong)maxBytes; // compared one by one, as the kernel does, so that no sum can overflow
        for (int i = 0; i < iovecs.Length; i++)
        {
            var v = iovecs[i];
            if (compat && (v.Base > uint.MaxValue || v.Length > uint.MaxValue))
            {
                why = $"{direction} iovec {i} ({v.Base:X}, {v.Length} bytes) does not fit a 32-bit caller";
                return EIO;
            }
            if (v.Length > left)
            {
                why = $"{direction} iovecs reach {v.Length} bytes at iovec {i} with {left} left of the {maxBytes} an ioctl may move";
                return ENOMEM;
            }
            left -= v.Length;
        }
        return 0;
    }
}
