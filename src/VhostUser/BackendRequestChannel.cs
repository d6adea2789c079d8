using System.Net.Sockets;
using AmpCan.VhostUser.Wire;

namespace AmpCan.VhostUser;

/// <summary>
/// The back-end request channel (SET_BACKEND_REQ_FD): a socket the front end gave us for messages of our own, such
/// as "the config space changed". Sends are serialised (any thread may notify); a failed send closes the channel.
/// </summary>
internal sealed class BackendRequestChannel : IDisposable
{
    private readonly Socket _socket;
    private readonly Lock _gate = new();
    private bool _closed;

    public BackendRequestChannel(Socket socket)
    {
        _socket = socket;
        // A front end that stops reading costs a notification after a second, never a thread of ours.
        _socket.SendTimeout = 1000;
    }

    /// <summary>Sends <paramref name="request"/> without payload and without asking for a reply; false when the channel is gone.</summary>
    public bool TrySend(VhostUserBackendRequest request)
    {
        Span<byte> message = stackalloc byte[VhostUserHeader.Length];
        new VhostUserHeader((uint)request, VhostUserHeaderFlags.Version1, 0).Write(message);
        lock (_gate)
        {
            if (_closed) return false;
            try
            {
                int sent = 0;
                while (sent < message.Length) sent += _socket.Send(message[sent..], SocketFlags.None);
                return true;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                _closed = true;
                _socket.Dispose();
                return false;
            }
        }
    }

    /// <summary>Closes the channel.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _closed = true;
            _socket.Dispose();
        }
    }
}
