using AmpCan.Fuse;
using AmpCan.Fuse.Wire;

namespace AmpCan.RpmsgChar.FrontEnds;

/// <summary>rpmsg_char answers written as FUSE replies (the token is the request's unique id) and poll notifications.</summary>
internal sealed class FuseRpmsgReplies(FuseReplyWriter writer) : IRpmsgCharReplies
{
    public void ReadDone(ulong token, ReadOnlySpan<byte> data) => writer.Reply(token, 0, data);

    public void WriteDone(ulong token, int count)
    {
        Span<byte> body = stackalloc byte[FuseWriteOut.WireSize];
        new FuseWriteOut((uint)count).Write(body);
        writer.Reply(token, 0, body);
    }

    public void Failed(ulong token, int errno) => writer.Reply(token, -errno, default);

    public void PollReady(ulong pollHandle) => writer.NotifyPoll(pollHandle);
}
