using System.Buffers.Binary;
using AmpCan.SharedMem;
using static AmpCan.Tests.Fuse.LibcForTests;

namespace AmpCan.Tests.Fuse;

/// <summary>
/// The kernel's end of a FUSE or CUSE channel, on a SOCK_SEQPACKET socket pair (message boundaries kept, as on
/// /dev/fuse): requests are built here by hand from fuse.h's layout, replies read back whole.
/// </summary>
internal sealed class KernelStandIn : IDisposable
{
    private int _kernel;

    /// <summary>The pair; <see cref="ServerEnd"/> is for the server under test.</summary>
    public KernelStandIn()
    {
        int[] fds = new int[2];
        Assert.That(SocketPair(AfUnix, SockSeqpacket | SockCloexec, 0, fds), Is.Zero, $"socketpair: errno {Errno}");
        _kernel = fds[0];
        ServerEnd = FuseDevice.Adopt(fds[1]);
    }

    /// <summary>The server's end, as a FUSE device.</summary>
    public FuseDevice ServerEnd { get; }

    /// <summary>Sends a request: the 40-byte in header (nodeid <paramref name="nodeId"/>), then <paramref name="body"/>.</summary>
    public void Send(uint opcode, ulong unique, byte[] body, ulong nodeId = 1, int? claimedLength = null)
    {
        var b = new byte[40 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)(claimedLength ?? b.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), opcode);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), unique);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), nodeId);
        body.CopyTo(b, 40);
        SendRaw(b);
    }

    /// <summary>Sends <paramref name="bytes"/> as one message, whatever they are.</summary>
    public void SendRaw(byte[] bytes) => Assert.That(Write(_kernel, bytes, bytes.Length), Is.EqualTo((nint)bytes.Length));

    /// <summary>The next reply, whole (header included), its len checked against its size.</summary>
    public byte[] ReceiveRaw()
    {
        var b = new byte[8192];
        nint n = Read(_kernel, b, b.Length);
        Assert.That(n, Is.GreaterThanOrEqualTo((nint)16), $"reply: {n}, errno {Errno}");
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(b), Is.EqualTo((uint)n), "out header's len");
        return b[..(int)n];
    }

    /// <summary>The next reply: its error, unique and body.</summary>
    public (int Error, ulong Unique, byte[] Body) Receive()
    {
        byte[] b = ReceiveRaw();
        return (BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(4)), BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(8)), b[16..]);
    }

    /// <summary>Expects an error reply (no body) to <paramref name="unique"/>.</summary>
    public void ExpectError(int error, ulong unique)
    {
        var reply = Receive();
        Assert.That((reply.Error, reply.Unique, reply.Body.Length), Is.EqualTo((error, unique, 0)));
    }

    /// <summary>Closes the kernel's end: the server's loop reads end of file and stops.</summary>
    public void Dispose()
    {
        if (_kernel >= 0) Close(_kernel);
        _kernel = -1;
    }
}
