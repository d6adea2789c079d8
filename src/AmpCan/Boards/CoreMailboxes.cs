using AmpCan.Host.Service;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Boards;

/// <summary>
/// A core's mailbox channels (<see cref="BoardDescriptor.EffectiveMailboxes"/>), a doorbell each: event-fd pairs (the
/// other end kept for a simulated remote), polling, UIO interrupts with a mailbox register (one mapping per register
/// map, shared by the channels in it), UNIX sockets connected when the remote listens. <see cref="Outgoing"/> is what the
/// transports kick through: the channel itself when the board has one that carries every notify id, else a
/// <see cref="MailboxRouter"/>; <see cref="Incoming"/> the channels that carry kicks from the remote.
/// </summary>
public sealed class CoreMailboxes : IDisposable
{
    private readonly DisposalStack _owned;
    private readonly string _board;
    private readonly MailboxSpec[] _specs;
    private readonly Doorbell?[] _host;
    private readonly Doorbell?[] _remote;
    private Doorbell? _outgoing;

    private CoreMailboxes(BoardDescriptor board, ILogger logger)
    {
        _board = board.Name;
        _owned = new DisposalStack(logger, $"board {board.Name} mailboxes");
        _specs = [.. board.EffectiveMailboxes];
        _host = new Doorbell?[_specs.Length];
        _remote = new Doorbell?[_specs.Length];
    }

    /// <summary>The channels, in the board's order.</summary>
    public IReadOnlyList<MailboxSpec> Channels => _specs;

    /// <summary>The host's doorbell of channel <paramref name="index"/> (null: a socket not connected yet).</summary>
    public Doorbell? Channel(int index) => _host[index];

    /// <summary>The other end of channel <paramref name="index"/> (event-fd and polling channels), as a simulated remote holds it; null for others.</summary>
    public Doorbell? RemoteEndOf(int index) => _remote[index];

    /// <summary>Whether kicks go through a <see cref="MailboxRouter"/> (several channels, or one that carries only some notify ids).</summary>
    public bool Routed => _specs.Length > 1 || _specs[0].NotifyIds is not null;

    /// <summary>Whether a channel carrying kicks from the remote is polled (the kernel keeps its interrupt): nothing wakes the loop for it.</summary>
    public bool Polled => Inbound().Any(i => _specs[i].Kind == DoorbellKind.Polling);

    /// <summary>What the transports kick through (after <see cref="ConnectSockets"/>).</summary>
    public Doorbell Outgoing => _outgoing ??= Routed ? Router() : _host[0] ?? throw NotConnected(0);

    /// <summary>The host's doorbells of the channels that carry kicks from the remote.</summary>
    public IReadOnlyList<Doorbell> Incoming => [.. Inbound().Select(i => _host[i] ?? throw NotConnected(i))];

    /// <summary>
    /// The doorbell a simulated remote in this process uses: the other end of the board's one channel, or a polling
    /// doorbell when every channel polls; null when the remote would need several (it has one doorbell).
    /// </summary>
    public Doorbell? RemoteEnd => !Routed ? _remote[0] : _specs.All(s => s.Kind == DoorbellKind.Polling) ? _owned.Push(new PollingDoorbell()) : null;

    /// <summary>Opens every channel but the UNIX-socket ones (<see cref="ConnectSockets"/>); on failure what was opened is closed.</summary>
    /// <exception cref="BoardException">A UIO channel's device or register map cannot be opened (the message names the channel).</exception>
    /// <remarks><paramref name="uioRoot"/> stands in for /sys/class/uio and /dev (tests); null: the real ones.</remarks>
    public static CoreMailboxes Open(BoardDescriptor board, ILogger logger, UioPaths? uioRoot = null)
    {
        var m = new CoreMailboxes(board, logger);
        try
        {
            var registerMaps = new Dictionary<(int, int), MappedRegion>();
            for (int i = 0; i < m._specs.Length; i++)
            {
                MailboxSpec s = m._specs[i];
                switch (s.Kind)
                {
                    case DoorbellKind.EventFd:
                        var (host, remote) = EventFdDoorbell.CreatePair();
                        m._host[i] = m._owned.Push(host);
                        m._remote[i] = m._owned.Push(remote);
                        break;
                    case DoorbellKind.Polling:
                        m._host[i] = m._owned.Push(new PollingDoorbell());
                        m._remote[i] = m._owned.Push(new PollingDoorbell());
                        break;
                    case DoorbellKind.Uio:
                        m.OpenUio(board, i, registerMaps, uioRoot);
                        break;
                }
            }
            return m;
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    // A UIO device is one mailbox block with one interrupt: the first of its channels that carries kicks from the remote
    // waits on it and acknowledges every such channel of the device; the others only kick (or, receive-only, do nothing
    // of their own). A device none of whose channels receives is not opened at all, only its registers mapped.
    private void OpenUio(BoardDescriptor board, int i, Dictionary<(int, int), MappedRegion> registerMaps, UioPaths? paths)
    {
        MailboxSpec s = _specs[i];
        DoorbellSpec d = s.ToDoorbell();
        UioPaths uio = paths ?? UioPaths.System;
        try
        {
            if (!registerMaps.TryGetValue((d.UioDevice, d.MailboxMap), out MappedRegion? regs))
                registerMaps[(d.UioDevice, d.MailboxMap)] = regs = _owned.Push(MappedRegion.MapUio(d.UioDevice, d.MailboxMap, sysfsRoot: uio.Sysfs, devRoot: uio.Dev));
            MailboxRegister? kick = s.Block is { Kind: not MailboxBlockKind.Uio } block && block.Kick is null ? null
                : new MailboxRegister(regs.Io, d.MailboxOffset, (uint)d.MailboxValue, d.MailboxNotifyIdShift);
            MailboxSpec[] inbound = [.. _specs.Where(c => c.Kind == DoorbellKind.Uio && c.UioDevice == d.UioDevice && c.Direction != MailboxDirection.ToRemote)];
            if (inbound.Length > 0 && inbound[0] == s)
                _host[i] = _owned.Push(new UioDoorbell(Path.Combine(uio.Dev, $"uio{d.UioDevice}"), kick, MailboxBlocks.For(inbound, regs.Io)));
            else
                _host[i] = _owned.Push<Doorbell>(kick is null ? new PollingDoorbell() : new RegisterDoorbell(kick, $"mailbox {s.Name} (uio{d.UioDevice} map {d.MailboxMap} +0x{d.MailboxOffset:x})"));
        }
        catch (SharedMemoryException e) when (board.Mailboxes is not null)
        {
            throw new BoardException($"board '{board.Name}': mailbox '{s.Name}' (uio{d.UioDevice} map {d.MailboxMap}) cannot be opened: {e.Message}");
        }
    }

    /// <summary>Connects each UNIX-socket channel not yet connected with <paramref name="connect"/> (which waits for the remote to listen).</summary>
    public void ConnectSockets(Func<MailboxSpec, Doorbell> connect)
    {
        for (int i = 0; i < _specs.Length; i++)
            if (_specs[i].Kind == DoorbellKind.UnixSocket && _host[i] is null) Connected(i, connect(_specs[i]));
    }

    /// <summary>Takes <paramref name="doorbell"/> (connected elsewhere) as channel <paramref name="index"/>'s; disposed with the rest.</summary>
    public void Connected(int index, Doorbell doorbell)
    {
        if (_host[index] is not null) throw new InvalidOperationException($"mailbox '{_specs[index].Name}' is connected already");
        _host[index] = _owned.Push(doorbell);
    }

    /// <summary>
    /// Throws a <see cref="BoardException"/> naming the first vring (or vdev) of <paramref name="table"/> whose notify id
    /// no channel carries to the remote: its kicks would be lost, the ring stalling with no error.
    /// </summary>
    public void CheckRoutes(ResourceTable table)
    {
        if (Outgoing is not MailboxRouter router) return;
        foreach (VdevResource vdev in table.Vdevs)
            for (int q = 0; q < vdev.QueueCount; q++)
                if (router.Route(vdev.Vring(q).NotifyId) is null)
                    throw new BoardException($"board '{_board}': vdev {vdev.Index} (id {vdev.DeviceId}) vring {q} has notify id {vdev.Vring(q).NotifyId}, which no mailbox carries " +
                        $"to the remote (mailboxes: {string.Join(", ", _specs.Select(Describe))}); add it to a channel's notifyIds");
    }

    /// <summary>
    /// Has <paramref name="loop"/> watch every incoming channel when the transports kick through a router (which cannot
    /// be waited on): a kick from the remote on any of them wakes the loop, which then runs every handler.
    /// </summary>
    public void Watch(NotificationLoop loop)
    {
        if (Outgoing is MailboxRouter) loop.Add(new IncomingChannels(), Incoming);
    }

    private IEnumerable<int> Inbound() => Enumerable.Range(0, _specs.Length).Where(i => _specs[i].Direction != MailboxDirection.ToRemote);

    private MailboxRouter Router()
    {
        int[] outbound = [.. Enumerable.Range(0, _specs.Length).Where(i => _specs[i].Direction != MailboxDirection.FromRemote)];
        int highest = outbound.SelectMany(i => _specs[i].NotifyIds ?? []).DefaultIfEmpty(-1).Max();
        var byId = new Doorbell?[highest + 1];
        Doorbell? rest = null;
        foreach (int i in outbound)
        {
            Doorbell bell = _host[i] ?? throw NotConnected(i);
            if (_specs[i].NotifyIds is not { } ids) rest = bell;
            else foreach (int id in ids) byId[id] = bell;
        }
        return new MailboxRouter(byId, rest, $"mailboxes {string.Join(", ", _specs.Select(Describe))}");
    }

    private static string Describe(MailboxSpec s) =>
        $"{s.Name} ({CoreMemory.Kebab(s.Kind)}{(s.Block is { } b ? $" {CoreMemory.Kebab(b.Kind)}" : "")}, {(s.NotifyIds is { } ids ? $"notify ids [{string.Join(", ", ids)}]" : "every notify id")}, {CoreMemory.Kebab(s.Direction)})";

    private InvalidOperationException NotConnected(int i) => new($"board '{_board}': mailbox '{_specs[i].Name}' is not connected yet");

    /// <summary>Closes every channel.</summary>
    public void Dispose() => _owned.Dispose();

    // No work of its own: it is there so that the loop watches the incoming channels and runs every handler on a kick.
    private sealed class IncomingChannels : INotificationHandler
    {
        public bool Process() => false;
        public bool ArmNotifications() => false;
        public void DisarmNotifications() { }
        public override string ToString() => "incoming mailbox channels";
    }
}
