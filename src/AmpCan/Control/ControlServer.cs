using System.Collections.Concurrent;
using System.Net.Sockets;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Control;

/// <summary>
/// The service's control socket: a UNIX stream socket on which each connection sends one request line and gets one
/// response line (<see cref="ControlProtocol"/>), carried out by <see cref="CoreCommands"/> on the cores of the moment.
/// </summary>
/// <remarks>
/// A client is a local user the socket's permissions admitted, but still only a peer: its line is bounded
/// (<see cref="ControlProtocol.MaxRequestBytes"/>) and must come within <see cref="RequestTimeout"/>, and whatever it
/// sends costs that connection only, with an error response naming the problem and a log line rate-limited across all
/// connections. Accepting runs on a thread of its own, each connection on the thread pool; nothing there throws out.
/// Changes (start, stop, recover, ...) are logged with who asked; status requests are not (scripts poll).
/// </remarks>
public sealed class ControlServer : IDisposable
{
    /// <summary>How long a client has to send its request line.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Connections served at once; one more is answered "busy" and closed.</summary>
    public const int MaxConnections = 16;

    private static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(1);
    private const int DrainBytes = 1 << 16;

    private readonly UnixFdChannel.Listener _listener;
    private readonly Func<IReadOnlyList<RemoteCoreLifecycle>> _cores;
    private readonly ILogger _logger;
    private readonly RateLimitedLog _faults = new(), _changes = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private readonly SemaphoreSlim _slots = new(MaxConnections, MaxConnections);
    private readonly Thread _acceptor;
    private int _disposed;

    private ControlServer(UnixFdChannel.Listener listener, Func<IReadOnlyList<RemoteCoreLifecycle>> cores, ILogger logger)
    {
        _listener = listener;
        _cores = cores;
        _logger = logger;
        _acceptor = new Thread(AcceptLoop) { IsBackground = true, Name = "ampcan-control" };
    }

    /// <summary>The socket path.</summary>
    public string Path => _listener.Path;

    /// <summary>
    /// Binds the socket <paramref name="settings"/> name, gives it their mode, owner and group, and serves
    /// <paramref name="cores"/> (asked anew for each request: the board's cores appear as it starts).
    /// </summary>
    /// <exception cref="ControlSocketException">
    /// The path is held by a live listener (named by process), is not a socket, or cannot be bound, chowned or
    /// chmodded; a socket file whose listener died is replaced.
    /// </exception>
    public static ControlServer Start(ControlSocketSettings settings, Func<IReadOnlyList<RemoteCoreLifecycle>> cores, ILogger logger)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("the control socket is a UNIX socket with UNIX permissions");
        string path = settings.Path ?? throw new ArgumentException("no control socket path: " + settings.Why, nameof(settings));
        RefuseIfHeld(path);
        if (System.IO.Path.GetDirectoryName(path) is string dir && dir == ControlSocketSettings.SystemDirectory && !Directory.Exists(dir))
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
                | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        UnixFdChannel.Listener listener;
        try { listener = UnixFdChannel.Listener.Bind(path); } // 0600 before it listens, stale socket files replaced
        catch (SharedMemoryException e) { throw new ControlSocketException($"control socket: {e.Message}"); }
        try
        {
            // Owner and group before the mode: a wider mode never applies to the wrong group, even for an instant.
            if (settings.Owner is not null || settings.Group is not null)
            {
                uint owner = settings.Owner is null ? uint.MaxValue : UnixAccounts.UserId(settings.Owner, ControlSocketSettings.OwnerKey);
                uint group = settings.Group is null ? uint.MaxValue : UnixAccounts.GroupId(settings.Group, ControlSocketSettings.GroupKey);
                int errno = UnixFileCalls.ChangeOwner(path, owner, group);
                if (errno != 0)
                    throw new ControlSocketException($"control socket '{path}': cannot give it owner {settings.Owner ?? "(unchanged)"}, group {settings.Group ?? "(unchanged)"}: {ErrnoText(errno)}");
            }
            File.SetUnixFileMode(path, settings.Mode);
            var server = new ControlServer(listener, cores, logger);
            server._acceptor.Start();
            return server;
        }
        catch (Exception e) when (e is not ControlSocketException)
        {
            listener.Dispose();
            throw new ControlSocketException($"control socket '{path}': cannot set its mode {settings.ModeText}: {e.Message}");
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    // The listener refuses a live socket too, but without saying whose it is: a connect tells, and SO_PEERCRED names it.
    private static void RefuseIfHeld(string path)
    {
        if (!File.Exists(path)) return;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { probe.Connect(new UnixDomainSocketEndPoint(path)); }
        catch (SocketException) { return; } // nobody listens (a stale socket, replaced), or not a socket (the listener says so)
        string holder = PeerCredentials.Of(probe)?.ToString() ?? "a process the kernel does not name";
        throw new ControlSocketException($"control socket '{path}' is in use by {holder}: another AmpCan service listens on it (stop it, or set {ControlSocketSettings.PathKey})");
    }

    private void AcceptLoop()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                Socket client = _listener.Accept(_stopping.Token);
                Task served = Task.Run(() => ServeAsync(client));
                _connections[served] = true;
                served.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                // accept(2) failing (EMFILE, ENOBUFS) is the machine's trouble, not a reason to stop serving: wait a little.
                if (_faults.ShouldLog(out long suppressed))
                    _logger.LogWarning("control socket {Path}: accept failed: {Reason}{Suppressed}", Path, e.Message, RateLimitedLog.Note(suppressed));
                _stopping.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(100));
            }
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        {
            PeerCredentials? peer = PeerCredentials.Of(client);
            try
            {
                if (!await _slots.WaitAsync(0).ConfigureAwait(false))
                {
                    await AnswerAsync(client, ControlResponse.Failure($"busy: {MaxConnections} requests are being served; try again")).ConfigureAwait(false);
                    return;
                }
                try { await ServeRequestAsync(client, peer).ConfigureAwait(false); }
                finally { _slots.Release(); }
            }
            catch (Exception e)
            {
                // The client went away, or sent what it should not: its connection ends, nothing else does.
                if (!_stopping.IsCancellationRequested && _faults.ShouldLog(out long suppressed))
                    _logger.LogWarning("control socket: {Peer}: {Reason}{Suppressed}", Describe(peer), e.Message, RateLimitedLog.Note(suppressed));
            }
        }
    }

    private async Task ServeRequestAsync(Socket client, PeerCredentials? peer)
    {
        byte[] buffer = new byte[ControlProtocol.MaxRequestBytes];
        int length = 0, end = -1;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
        {
            timeout.CancelAfter(RequestTimeout);
            try
            {
                while (end < 0 && length < buffer.Length)
                {
                    int n = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    if (n == 0) break; // the client half-closed: what it sent is its request
                    int newline = buffer.AsSpan(length, n).IndexOf((byte)'\n');
                    if (newline >= 0) end = length + newline;
                    length += n;
                }
            }
            catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
            {
                await Refuse(client, peer, $"no request line within {RequestTimeout.TotalSeconds:0} s").ConfigureAwait(false);
                return;
            }
        }
        if (end < 0 && length == buffer.Length)
        {
            await Refuse(client, peer, $"request too long: no newline within {ControlProtocol.MaxRequestBytes} bytes (a request is one line of at most {ControlProtocol.MaxRequestBytes} bytes)").ConfigureAwait(false);
            await DrainAsync(client, buffer).ConfigureAwait(false);
            return;
        }
        if (end < 0 && length == 0) return; // connected and left without a word (a probe for a live service)

        ControlRequest request;
        try { request = ControlRequest.Parse(buffer.AsSpan(0, end < 0 ? length : end)); }
        catch (ControlRequestException e)
        {
            await Refuse(client, peer, e.Message).ConfigureAwait(false);
            return;
        }

        ControlResponse response;
        try { response = CoreCommands.Execute(request, Snapshot(), _stopping.Token); }
        catch (Exception e)
        {
            // A defect of ours (or the service stopping under a start): the client still gets an answer, the log the details.
            if (_faults.ShouldLog(out long s)) _logger.LogError(e, "control: {Command} failed{Suppressed}", request.Command, RateLimitedLog.Note(s));
            response = ControlResponse.Failure($"{request.Command}: internal error ({e.GetType().Name}): {e.Message}");
        }
        if (request.Command != "status" && _changes.ShouldLog(out long suppressed))
        {
            string target = response.Cores is [CoreStatus one] ? one.Name : request.Core is null ? "(no core)" : PeerText.Escape(request.Core);
            if (response.Ok)
                _logger.LogInformation("control: {Command} {Core} asked by {Peer}: done, {State}{Suppressed}", request.Command, target, Describe(peer), response.Cores![0].State, RateLimitedLog.Note(suppressed));
            else
                _logger.LogInformation("control: {Command} {Core} asked by {Peer}: {Error}{Suppressed}", request.Command, target, Describe(peer), response.Error, RateLimitedLog.Note(suppressed));
        }
        await AnswerAsync(client, response).ConfigureAwait(false);
    }

    // The board's cores as of now; the list grows on another thread while the board starts, so a slot may not be filled yet.
    private IReadOnlyList<RemoteCoreLifecycle> Snapshot()
    {
        IReadOnlyList<RemoteCoreLifecycle> cores = _cores();
        var copy = new List<RemoteCoreLifecycle>(cores.Count);
        for (int i = 0; i < cores.Count; i++)
            if (cores[i] is RemoteCoreLifecycle c) copy.Add(c);
        return copy;
    }

    private async Task Refuse(Socket client, PeerCredentials? peer, string problem)
    {
        if (_faults.ShouldLog(out long suppressed))
            _logger.LogWarning("control socket: {Peer}: refused: {Problem}{Suppressed}", Describe(peer), problem, RateLimitedLog.Note(suppressed));
        await AnswerAsync(client, ControlResponse.Failure(problem)).ConfigureAwait(false);
    }

    private async Task AnswerAsync(Socket client, ControlResponse response)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(RequestTimeout); // a client that does not read cannot hold the connection
        await client.SendAsync(response.ToLine(), SocketFlags.None, timeout.Token).ConfigureAwait(false);
        client.Shutdown(SocketShutdown.Send);
    }

    // Closing a UNIX socket with unread input resets the connection, and the client may lose the answer already sent:
    // so the rest of an oversized request is read and dropped first, a bounded amount for a bounded time.
    private async Task DrainAsync(Socket client, byte[] buffer)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(DrainTime);
        try
        {
            for (int total = 0; total < DrainBytes;)
            {
                int n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0) return;
                total += n;
            }
        }
        catch (OperationCanceledException) { } // it keeps sending: it gets the reset it asked for
    }

    private static string Describe(PeerCredentials? peer) => peer?.ToString() ?? "a client the kernel does not name";

    private static string ErrnoText(int errno) => $"{System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    /// <summary>Stops accepting, removes the socket file, and waits (a few seconds at most) for requests in progress, cutting short a start or recovery that waits.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        _listener.Dispose();
        _acceptor.Join(TimeSpan.FromSeconds(5));
        Task.WaitAll([.. _connections.Keys], TimeSpan.FromSeconds(5));
    }
}
