using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace AmpCan.Host.Control;

/// <summary>The service cannot be reached at its control socket; the message names the path and the errno.</summary>
public sealed class ControlUnreachableException(string message) : Exception(message);

/// <summary>Sends one request to the service's control socket and reads its response line.</summary>
public static class ControlClient
{
    /// <summary>
    /// Connects to <paramref name="path"/>, sends <paramref name="request"/> and returns the response as sent (one line
    /// of JSON, without the newline) and as read.
    /// </summary>
    /// <exception cref="ControlUnreachableException">Nothing listens there, the socket is not ours to use, or the service hung up without answering.</exception>
    public static async Task<(string Line, ControlResponse Response)> SendAsync(string path, ControlRequest request, CancellationToken cancellation)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellation).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new ControlUnreachableException($"cannot reach the service at {path}: {Said(e)}{Hint(e.SocketErrorCode)}");
        }
        byte[] buffer = new byte[ControlProtocol.MaxResponseBytes];
        int length = 0, end = -1;
        try
        {
            await socket.SendAsync(request.ToLine(), SocketFlags.None, cancellation).ConfigureAwait(false);
            while (end < 0 && length < buffer.Length)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellation).ConfigureAwait(false);
                if (n == 0) break;
                int newline = buffer.AsSpan(length, n).IndexOf((byte)'\n');
                if (newline >= 0) end = length + newline;
                length += n;
            }
        }
        catch (SocketException e)
        {
            throw new ControlUnreachableException($"the service at {path} broke the connection: {Said(e)}");
        }
        if (end < 0)
            throw new ControlUnreachableException(length == 0 ? $"the service at {path} closed the connection without answering"
                : $"the service at {path} sent no complete response line ({length} bytes)");
        string line = Encoding.UTF8.GetString(buffer, 0, end);
        try
        {
            ControlResponse? response = JsonSerializer.Deserialize(line, ControlProtocol.ResponseInfo);
            return (line, response ?? throw new JsonException("null"));
        }
        catch (JsonException e)
        {
            throw new ControlUnreachableException($"the service at {path} answered what is not a response ({e.Message})");
        }
    }

    // "Connection refused (errno 111, ECONNREFUSED)": the errno as connect(2) gave it, by number and name. .NET turns
    // some errnos into others on the way (ENOENT of a UNIX path becomes EADDRNOTAVAIL), so the common ones are put back.
    private static string Said(SocketException e)
    {
        (int errno, string name) = e.SocketErrorCode switch
        {
            SocketError.AddressNotAvailable => (2, "ENOENT"),
            SocketError.ConnectionRefused => (111, "ECONNREFUSED"),
            SocketError.AccessDenied => (13, "EACCES"),
            SocketError.ConnectionReset => (104, "ECONNRESET"),
            SocketError.Shutdown => (32, "EPIPE"),
            SocketError.TimedOut => (110, "ETIMEDOUT"),
            _ => (e.NativeErrorCode, e.SocketErrorCode.ToString()),
        };
        return $"{System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}, {name})";
    }

    private static string Hint(SocketError error) => error switch
    {
        SocketError.AddressNotAvailable => ": no socket there; is the service running, and is this its AmpCan:ControlSocket? (--socket names another)",
        SocketError.ConnectionRefused => ": a socket file nobody listens on; the service is not running",
        SocketError.AccessDenied => ": the socket's permissions do not admit this user (see AmpCan:ControlSocketMode and ControlSocketGroup)",
        _ => "",
    };
}
