using AmpCan.Fuse;
using AmpCan.Fuse.Wire;

namespace AmpCan.Tests.Fuse;

/// <summary>A handler whose every call throws, as a buggy front end would.</summary>
internal sealed class ThrowingFileSystem : IFuseFileHandler
{
    public void Lookup(FuseReply reply, ulong parent, ReadOnlySpan<byte> name) => throw new InvalidOperationException("lookup bug");
    public void GetAttr(FuseReply reply, ulong nodeId, in FuseGetAttrIn request) => throw new InvalidOperationException("getattr bug");
    public void Open(FuseReply reply, ulong nodeId, in FuseOpenIn request) => throw new InvalidOperationException("open bug");
    public void Read(FuseReply reply, in FuseReadIn request) => throw new InvalidOperationException("read bug");
    public void Write(FuseReply reply, in FuseWriteIn request, ReadOnlySpan<byte> data) => throw new InvalidOperationException("write bug");
    public void Ioctl(FuseReply reply, in FuseIoctlIn request, ReadOnlySpan<byte> input) => throw new InvalidOperationException("ioctl bug");
    public void Poll(FuseReply reply, in FusePollIn request) => throw new InvalidOperationException("poll bug");
    public void Flush(FuseReply reply, in FuseFlushIn request) => throw new InvalidOperationException("flush bug");
    public void Release(FuseReply reply, in FuseReleaseIn request) => throw new InvalidOperationException("release bug");
    public void Interrupt(ulong unique) => throw new InvalidOperationException("interrupt bug");
}
