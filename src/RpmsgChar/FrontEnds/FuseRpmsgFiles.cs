using AmpCan.Fuse;
using AmpCan.Fuse.Wire;

namespace AmpCan.RpmsgChar.FrontEnds;

/// <summary>
/// The rpmsg_char files as a FUSE file system (where /dev/cuse is missing): one directory holding <c>rpmsg_ctrlN</c> and
/// <c>rpmsgN</c> as regular files with the character devices' semantics (direct I/O, stream, ioctls restricted to what
/// each command's number encodes, poll notifications). Lookups are never cached by the kernel, so a removed file is
/// gone at once. Requests come on the FUSE loop's one thread; late answers from the device's loop.
/// </summary>
public sealed class FuseRpmsgFiles(RpmsgCharDevices devices, RpmsgCharFileAccess access) : IFuseFileHandler
{
    private const int ENOENT = 2, EBADF = 9, ENOTDIR = 20;
    private const uint SIfReg = 0x8000, SIfDir = 0x4000;
    private readonly RpmsgCharOpenFiles _open = new();
    private readonly ulong _time = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private FuseRpmsgReplies? _replies;

    /// <summary>Files open now (descriptors of clients, counted once per open).</summary>
    public int OpenFiles => _open.Count;

    private FuseAttr Attr(ulong node) => node == FuseProtocol.RootId
        ? new FuseAttr(node, 0, SIfDir | 0x1ED, 2, 0, 0, _time) // drwxr-xr-x root root
        : new FuseAttr(node, 0, SIfReg | access.Mode, 1, access.Owner, access.Group, _time);

    private RpmsgCharNode? Node(ulong nodeId) => devices.Find(nodeId);

    /// <inheritdoc/>
    public void Lookup(FuseReply reply, ulong parent, ReadOnlySpan<byte> name)
    {
        RpmsgCharNode? node = parent == FuseProtocol.RootId ? devices.Find(FuseServer.NameText(name)) : null;
        if (node is null) reply.Error(ENOENT);
        else reply.Entry(new FuseEntryOut(node.NodeId, 0, 0, 0, Attr(node.NodeId)));
    }

    /// <inheritdoc/>
    public void GetAttr(FuseReply reply, ulong nodeId, in FuseGetAttrIn request)
    {
        if (nodeId != FuseProtocol.RootId && Node(nodeId) is null) reply.Error(ENOENT);
        else reply.Attr(new FuseAttrOut(0, Attr(nodeId)));
    }

    /// <inheritdoc/>
    public void Open(FuseReply reply, ulong nodeId, in FuseOpenIn request)
    {
        const uint flags = FuseOpenFlags.DirectIo | FuseOpenFlags.NonSeekable | FuseOpenFlags.Stream;
        _replies ??= new FuseRpmsgReplies(reply.Writer);
        switch (Node(nodeId))
        {
            case RpmsgCtrlDevice ctrl:
            {
                int rc = ctrl.Open();
                if (rc < 0) { reply.Error(-rc); return; }
                ulong fh = _open.Add(ctrl);
                if (!reply.Opened(fh, flags)) _open.Close(fh);
                return;
            }
            case RpmsgEndpointDevice device:
            {
                int rc = device.Open(_replies, out RpmsgCharFile? file);
                if (rc < 0) { reply.Error(-rc); return; }
                ulong fh = _open.Add(file!);
                if (!reply.Opened(fh, flags)) _open.Close(fh); // the caller left before the answer: nobody would release it
                return;
            }
            default:
                reply.Error(ENOENT);
                return;
        }
    }

    /// <inheritdoc/>
    public void Read(FuseReply reply, in FuseReadIn request) => _open.Read(reply, request);

    /// <inheritdoc/>
    public void Write(FuseReply reply, in FuseWriteIn request, ReadOnlySpan<byte> data) => _open.Write(reply, request, data);

    /// <inheritdoc/>
    public void Ioctl(FuseReply reply, in FuseIoctlIn request, ReadOnlySpan<byte> input) => _open.Ioctl(reply, request, input);

    /// <inheritdoc/>
    public void Poll(FuseReply reply, in FusePollIn request) => _open.Poll(reply, request);

    /// <inheritdoc/>
    public void OpenDir(FuseReply reply, ulong nodeId, in FuseOpenIn request)
    {
        if (nodeId != FuseProtocol.RootId) { reply.Error(ENOTDIR); return; }
        // The names as they are at opendir: a listing read in several parts stays one consistent snapshot.
        List<(string Name, ulong Node, uint Type)> entries = [(".", FuseProtocol.RootId, FuseDirectoryEntry.Directory), ("..", FuseProtocol.RootId, FuseDirectoryEntry.Directory)];
        entries.AddRange(devices.Files.Select(f => (f.Name, f.NodeId, FuseDirectoryEntry.RegularFile)));
        ulong fh = _open.Add(new Listing(entries));
        if (!reply.Opened(fh, 0)) _open.Close(fh);
    }

    /// <inheritdoc/>
    public void ReadDir(FuseReply reply, in FuseReadIn request)
    {
        if (_open.Get(request.FileHandle) is not Listing listing) { reply.Error(EBADF); return; }
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Min(request.Size, 64 * 1024));
        try
        {
            int used = 0;
            for (int i = (int)Math.Min(request.Offset, (ulong)listing.Entries.Count); i < listing.Entries.Count; i++)
            {
                var (name, node, type) = listing.Entries[i];
                int n = FuseDirectoryEntry.Write(buffer.AsSpan(used, (int)Math.Min(request.Size, (uint)buffer.Length) - used), node, (ulong)(i + 1), type, name);
                if (n == 0) break;
                used += n;
            }
            reply.Data(buffer.AsSpan(0, used));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc/>
    public void ReleaseDir(FuseReply reply, in FuseReleaseIn request)
    {
        _open.Close(request.FileHandle);
        reply.Ok();
    }

    private sealed record Listing(List<(string Name, ulong Node, uint Type)> Entries);

    /// <inheritdoc/>
    public void Flush(FuseReply reply, in FuseFlushIn request) => reply.Ok();

    /// <inheritdoc/>
    public void Release(FuseReply reply, in FuseReleaseIn request)
    {
        _open.Close(request.FileHandle);
        reply.Ok();
    }

    /// <inheritdoc/>
    public void Interrupt(ulong unique) => _open.Interrupt(unique);
}
