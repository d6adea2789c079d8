using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using AmpCan.SharedMem.Diagnostics;

namespace AmpCan.Host.Control;

/// <summary>Who is at the other end of a connected UNIX socket, as the kernel vouches (<c>SO_PEERCRED</c>): for logs and for naming a socket's holder.</summary>
public readonly record struct PeerCredentials(int ProcessId, uint UserId, uint GroupId)
{
    private const int SolSocket = 1, SoPeerCred = 17; // <asm-generic/socket.h>; struct ucred is { pid_t, uid_t, gid_t }

    /// <summary>The peer's credentials, or null when the kernel does not say (not a UNIX socket, already closed).</summary>
    public static PeerCredentials? Of(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        try
        {
            if (socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred) != ucred.Length) return null;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return null;
        }
        return new PeerCredentials(BinaryPrimitives.ReadInt32LittleEndian(ucred), BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[8..]));
    }

    /// <summary>"process 1234 (ampcan), uid 0": the command name from /proc, escaped (a process chooses its own name).</summary>
    public override string ToString()
    {
        string pid = ProcessId.ToString(CultureInfo.InvariantCulture);
        string? command = null;
        try { command = File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n'); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // it ended, or /proc is not ours to read
        return command is null ? $"process {pid}, uid {UserId}" : $"process {pid} ({PeerText.Escape(command)}), uid {UserId}";
    }
}
