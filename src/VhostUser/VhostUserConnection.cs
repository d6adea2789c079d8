using System.Net.Sockets;
using AmpCan.SharedMem;
using AmpCan.VhostUser.Wire;
using Microsoft.Win32.SafeHandles;

namespace AmpCan.VhostUser;

/// <summary>
/// The framing of one front end's connection: reads whole messages (header, payload, the descriptors that came with
/// any of their bytes) and sends replies. Every descriptor received is owned by a handle from the moment it arrives,
/// so one that nobody takes is closed, never leaked.
/// </summary>
internal sealed class VhostUserConnection(Socket socket) : IDisposable
{
    /// <summary>The largest payload accepted: a config space access of up to 4 KiB (a full memory table is 264 bytes).</summary>
    public const int MaxPayload = ConfigSpaceHeader.Length + MaxConfigAccess;

    /// <summary>The largest config space access (virtio-pci's device config window is at most 4 KiB).</summary>
    public const int MaxConfigAccess = 4096;

    private const VhostUserHeaderFlags AllowedFlags = VhostUserHeaderFlags.VersionMask | VhostUserHeaderFlags.NeedReply;
    private readonly byte[] _header = new byte[VhostUserHeader.Length];
    private readonly byte[] _payload = new byte[MaxPayload];
    private readonly byte[] _reply = new byte[VhostUserHeader.Length + MaxPayload];

    /// <summary>The payload of the last message read.</summary>
    public ReadOnlySpan<byte> Payload(in VhostUserHeader header) => _payload.AsSpan(0, (int)header.Size);

    /// <summary>
    /// Reads the next message; false when the front end closed the connection between messages. Descriptors that came
    /// with it are added to <paramref name="fds"/>. Throws <see cref="VhostUserProtocolException"/> (closing) on a
    /// malformed header or a message cut short.
    /// </summary>
    public bool TryRead(out VhostUserHeader header, List<SafeFileHandle> fds)
    {
        header = default;
        if (!Fill(_header, fds, atMessageStart: true)) return false;
        header = VhostUserHeader.Read(_header);
        if (header.Version != 1)
            throw new VhostUserProtocolException($"message with version {header.Version} (flags 0x{(uint)header.Flags:x}); only version 1 exists", closeConnection: true);
        if ((header.Flags & ~AllowedFlags) != 0)
            throw new VhostUserProtocolException($"request {header.Request} with flags 0x{(uint)header.Flags:x} (a reply bit or unknown bits from the front end)", closeConnection: true);
        if (header.Size > MaxPayload)
            throw new VhostUserProtocolException($"request {header.Request} announces {header.Size} payload bytes, more than any request has ({MaxPayload})", closeConnection: true);
        if (header.Size > 0 && !Fill(_payload.AsSpan(0, (int)header.Size), fds, atMessageStart: false))
            throw new VhostUserProtocolException($"request {header.Request}: the connection closed inside its payload", closeConnection: true);
        return true;
    }

    private bool Fill(Span<byte> buffer, List<SafeFileHandle> fds, bool atMessageStart)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n;
            int[] received;
            try
            {
                n = UnixFdChannel.Receive(socket, buffer[read..], out received);
            }
            catch (SharedMemoryException e)
            {
                throw new VhostUserProtocolException($"receiving a message: {e.Message}", closeConnection: true);
            }
            foreach (int fd in received) fds.Add(new SafeFileHandle(fd, ownsHandle: true));
            if (n == 0)
            {
                if (read == 0 && atMessageStart) return false;
                throw new VhostUserProtocolException($"the connection closed after {read} of {buffer.Length} bytes", closeConnection: true);
            }
            read += n;
        }
        return true;
    }

    /// <summary>Sends a reply to <paramref name="request"/> with <paramref name="payload"/>.</summary>
    public void Reply(VhostUserRequest request, ReadOnlySpan<byte> payload)
    {
        VhostUserHeader.ReplyTo((uint)request, payload.Length).Write(_reply);
        payload.CopyTo(_reply.AsSpan(VhostUserHeader.Length));
        int length = VhostUserHeader.Length + payload.Length, sent = 0;
        while (sent < length) sent += socket.Send(_reply, sent, length - sent, SocketFlags.None);
    }

    /// <summary>Sends a u64 reply (a GET_FEATURES value, or a REPLY_ACK: 0 success, non-zero failure).</summary>
    public void Reply(VhostUserRequest request, ulong value)
    {
        Span<byte> p = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(p, value);
        Reply(request, p);
    }

    /// <summary>Ends the connection from another thread: a read in progress returns end of stream.</summary>
    public void Shutdown()
    {
        try { socket.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { } // already disconnected
        catch (ObjectDisposedException) { }
    }

    /// <summary>Closes the socket.</summary>
    public void Dispose() => socket.Dispose();
}
