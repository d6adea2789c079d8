using AmpCan.Fuse.Wire;

namespace AmpCan.Fuse;

/// <summary>
/// The answer owed to one request: carries its <see cref="Unique"/> id, so a handler may answer at once or keep it
/// and answer later from any thread (a blocking read answered when a message arrives). Answer exactly once; the
/// kernel ignores (ENOENT) an answer to a request that was interrupted meanwhile.
/// </summary>
public readonly struct FuseReply
{
    private readonly FuseReplyWriter _writer;

    /// <summary>The reply to request <paramref name="unique"/>, written through <paramref name="writer"/>.</summary>
    public FuseReply(FuseReplyWriter writer, ulong unique)
    {
        _writer = writer;
        Unique = unique;
    }

    /// <summary>The request's id (what FUSE_INTERRUPT names).</summary>
    public ulong Unique { get; }

    /// <summary>The writer this reply goes through, also the one for poll notifications.</summary>
    public FuseReplyWriter Writer => _writer;

    /// <summary>Fails the request with <paramref name="errno"/> (positive, e.g. 11 for EAGAIN).</summary>
    public bool Error(int errno) => _writer.Reply(Unique, -Math.Abs(errno), default);

    /// <summary>Succeeds with no body (FLUSH, RELEASE).</summary>
    public bool Ok() => _writer.Reply(Unique, 0, default);

    /// <summary>Answers READ with <paramref name="data"/> (already cut to the size asked for).</summary>
    public bool Data(ReadOnlySpan<byte> data) => _writer.Reply(Unique, 0, data);

    /// <summary>Answers WRITE: <paramref name="count"/> bytes taken.</summary>
    public bool Written(uint count)
    {
        Span<byte> b = stackalloc byte[FuseWriteOut.WireSize];
        new FuseWriteOut(count).Write(b);
        return _writer.Reply(Unique, 0, b);
    }

    /// <summary>Answers OPEN with the server's handle and FOPEN_* flags.</summary>
    public bool Opened(ulong fileHandle, uint openFlags)
    {
        Span<byte> b = stackalloc byte[FuseOpenOut.Size];
        new FuseOpenOut(fileHandle, openFlags).Write(b);
        return _writer.Reply(Unique, 0, b);
    }

    /// <summary>Answers LOOKUP.</summary>
    public bool Entry(in FuseEntryOut entry)
    {
        Span<byte> b = stackalloc byte[FuseEntryOut.Size];
        entry.Write(b);
        return _writer.Reply(Unique, 0, b);
    }

    /// <summary>Answers GETATTR.</summary>
    public bool Attr(in FuseAttrOut attr)
    {
        Span<byte> b = stackalloc byte[FuseAttrOut.Size];
        attr.Write(b);
        return _writer.Reply(Unique, 0, b);
    }

    /// <summary>Answers POLL with the events ready now.</summary>
    public bool Poll(uint readyEvents)
    {
        Span<byte> b = stackalloc byte[FusePollOut.Size];
        new FusePollOut(readyEvents).Write(b);
        return _writer.Reply(Unique, 0, b);
    }

    /// <summary>
    /// Answers IOCTL: ioctl(2) returns <paramref name="result"/> and <paramref name="output"/> (at most out_size bytes)
    /// is copied to the caller's buffer.
    /// </summary>
    public bool Ioctl(int result, ReadOnlySpan<byte> output)
    {
        const int MaxInline = 512; // ioctl structs are small; larger outputs go through one pooled buffer
        int total = FuseIoctlOut.Size + output.Length;
        byte[]? rented = total > MaxInline ? System.Buffers.ArrayPool<byte>.Shared.Rent(total) : null;
        Span<byte> b = rented is null ? stackalloc byte[MaxInline] : rented;
        try
        {
            new FuseIoctlOut(result, 0, 0, 0).Write(b);
            output.CopyTo(b[FuseIoctlOut.Size..]);
            return _writer.Reply(Unique, 0, b[..total]);
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Answers an unrestricted (CUSE) IOCTL with FUSE_IOCTL_RETRY: the kernel copies <paramref name="input"/>'s caller
    /// buffers in and resends the request with them (in_size their total, out_size <paramref name="output"/>'s), or
    /// fails the caller EFAULT for a bad address. What the kernel would refuse (see <see cref="FuseIoctlRetry.Check"/>)
    /// is answered with its errno instead, and false returned; false too when the reply could not be written.
    /// </summary>
    public bool IoctlRetry(in FuseIoctlIn request, ReadOnlySpan<FuseIoctlIovec> input, ReadOnlySpan<FuseIoctlIovec> output)
    {
        int errno = FuseIoctlRetry.Check(request, input, output, _writer.MaxIoctlBytes, out string why);
        if (errno != 0)
        {
            _writer.RefusedRetry(Unique, request.Command, why, errno);
            Error(errno);
            return false;
        }
        // At most FUSE_IOCTL_MAX_IOV iovecs: the whole reply fits one page on the stack.
        Span<byte> b = stackalloc byte[FuseIoctlOut.Size + FuseIoctlFlags.MaxIov * FuseIoctlIovec.Size];
        new FuseIoctlOut(0, FuseIoctlFlags.Retry, (uint)input.Length, (uint)output.Length).Write(b);
        int at = FuseIoctlOut.Size;
        foreach (var v in input) { v.Write(b[at..]); at += FuseIoctlIovec.Size; }
        foreach (var v in output) { v.Write(b[at..]); at += FuseIoctlIovec.Size; }
        return _writer.Reply(Unique, 0, b[..at]);
    }

    /// <summary>
    /// <see cref="IoctlRetry"/> with the iovecs a restricted ioctl would get from the command's _IOC encoding (see
    /// <see cref="FuseIoctlRetry.WantsEncodedData"/>): the resent request carries what a FUSE file's ioctl carries.
    /// </summary>
    public bool IoctlRetryEncoded(in FuseIoctlIn request)
    {
        Span<FuseIoctlIovec> input = stackalloc FuseIoctlIovec[1], output = stackalloc FuseIoctlIovec[1];
        var (i, o) = FuseIoctlRetry.EncodedIovecs(request, input, output);
        return IoctlRetry(request, input[..i], output[..o]);
    }
}
