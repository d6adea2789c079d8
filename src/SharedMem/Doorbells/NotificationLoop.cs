using System.Diagnostics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem.Doorbells;

/// <summary>How a <see cref="NotificationLoop"/> waits when there is no work.</summary>
public enum NotificationMode
{
    /// <summary>Never park: spin on the rings (lowest latency, a core per loop).</summary>
    Polling,
    /// <summary>Park on the doorbells as soon as the rings are empty (lowest CPU).</summary>
    Doorbell,
    /// <summary>Spin for a bounded time after the last work, then arm notifications and park.</summary>
    Adaptive,
}

/// <summary>One piece of work a <see cref="NotificationLoop"/> drives: typically one side of one virtqueue.</summary>
public interface INotificationHandler
{
    /// <summary>Drains whatever is pending; returns true if anything was done.</summary>
    bool Process();

    /// <summary>Asks the peer to notify us before the loop parks; returns true if work arrived meanwhile (the loop then does not park).</summary>
    bool ArmNotifications();

    /// <summary>Tells the peer it need not notify us while the loop spins.</summary>
    void DisarmNotifications();
}

/// <summary>
/// The event loop of one remote: a single thread that drives every handler, spinning or parking in epoll on all
/// doorbells at once, per <see cref="NotificationMode"/>. A handler that throws is removed (it costs that channel,
/// not the loop).
/// </summary>
public sealed unsafe class NotificationLoop : IDisposable
{
    private const ulong WakeToken = ulong.MaxValue;
    private readonly ILogger _logger;
    private readonly int _epollFd;
    private readonly int _wakeFd;
    private readonly long _spinTicks;
    private readonly Lock _gate = new();
    private INotificationHandler[] _handlers = [];
    private Doorbell?[] _doorbells = [];
    private Thread? _thread;
    private Thread? _runner;
    private readonly ManualResetEventSlim _exited = new(true);
    private volatile bool _stopping;
    private int _disposed;
    private long _parks;

    /// <summary>Creates a loop; handlers are added before or after <see cref="Start"/>.</summary>
    public NotificationLoop(string name, NotificationMode mode, TimeSpan? spinBudget = null, ILogger? logger = null)
    {
        Name = name;
        Mode = mode;
        _spinTicks = (long)((spinBudget ?? TimeSpan.FromMicroseconds(50)).TotalSeconds * Stopwatch.Frequency);
        _logger = logger ?? NullLogger.Instance;
        _epollFd = Posix.Check(epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
        _wakeFd = EventFdDoorbell.CreateEventFd();
        Register(_wakeFd, WakeToken, edgeTriggered: true);
    }

    /// <summary>Name of the loop's thread.</summary>
    public string Name { get; }

    /// <summary>How the loop waits.</summary>
    public NotificationMode Mode { get; }

    /// <summary>True when called from the thread running the loop (a handler or a callback it made).</summary>
    public bool IsCurrentThread => Volatile.Read(ref _runner) == Thread.CurrentThread;

    /// <summary>How many times the loop has parked in epoll (a measure of wake-ups).</summary>
    public long Parks => Interlocked.Read(ref _parks);

    /// <summary>Raised on the loop thread when a handler threw and was removed.</summary>
    public event Action<INotificationHandler, Exception>? HandlerFaulted;

    /// <summary>Raised on the loop thread when a doorbell failed (the peer closed it) and is no longer watched.</summary>
    public event Action<Doorbell, Exception>? DoorbellFailed;

    /// <summary>Adds a handler and the doorbell that announces its work (null when the peer never rings).</summary>
    public void Add(INotificationHandler handler, Doorbell? incoming = null)
    {
        lock (_gate)
        {
            if (incoming is not null && incoming.WaitFd >= 0 && Array.IndexOf(_doorbells, incoming) < 0)
            {
                Register(incoming.WaitFd, (ulong)_doorbells.Length, incoming.EdgeTriggered);
                _doorbells = [.. _doorbells, incoming];
            }
            _handlers = [.. _handlers, handler];
        }
        // A loop that has not started sees the handler on its first pass; waking it would only cost a spurious park.
        if (Volatile.Read(ref _thread) is not null || Volatile.Read(ref _runner) is not null) Wake();
    }

    /// <summary>Removes a handler; its doorbell stays registered (others may share it).</summary>
    public void Remove(INotificationHandler handler)
    {
        lock (_gate) _handlers = _handlers.Where(h => h != handler).ToArray();
    }

    private void Register(int fd, ulong token, bool edgeTriggered)
    {
        epoll_event ev = default;
        ev.events = edgeTriggered ? EPOLLIN | EPOLLET : EPOLLIN;
        ev.data.u64 = token;
        Posix.Check(epoll_ctl(_epollFd, EPOLL_CTL_ADD, fd, &ev), $"epoll_ctl add fd {fd}");
    }

    /// <summary>Runs the loop on a dedicated thread, pinned to <paramref name="cpu"/> when it is not negative.</summary>
    public void Start(int cpu = -1)
    {
        if (_thread is not null) throw new InvalidOperationException($"loop {Name} already started");
        _exited.Reset();
        _thread = new Thread(() =>
        {
            if (cpu >= 0) ThreadAffinity.Pin(cpu);
            Run();
        }) { Name = Name, IsBackground = true };
        _thread.Start();
    }

    /// <summary>Makes a parked loop look at its handlers again (for work posted from another thread).</summary>
    public void Wake()
    {
        ulong one = 1;
        Posix.Write(_wakeFd, &one, 8);
    }

    /// <summary>Stops the loop and waits until it has left <see cref="Run"/> (unless called from the loop itself).</summary>
    public void Stop()
    {
        _stopping = true;
        if (Volatile.Read(ref _disposed) != 0) return;
        Wake();
        if (Volatile.Read(ref _runner) != Thread.CurrentThread) _exited.Wait();
    }

    /// <summary>Runs the loop on the calling thread until <see cref="Stop"/>.</summary>
    public void Run()
    {
        if (Interlocked.CompareExchange(ref _runner, Thread.CurrentThread, null) is not null)
            throw new InvalidOperationException($"loop {Name} is already running");
        _exited.Reset();
        try
        {
            RunLoop();
        }
        finally
        {
            Volatile.Write(ref _runner, null);
            _exited.Set();
        }
    }

    private void RunLoop()
    {
        const int MaxEvents = 16;
        epoll_event* events = stackalloc epoll_event[MaxEvents];
        long idleSince = 0;  // when the current idle stretch began; 0 while working
        int idleSpins = 0;
        INotificationHandler[] disarmed = [];
        while (!_stopping)
        {
            INotificationHandler[] handlers = Volatile.Read(ref _handlers);
            if (Mode != NotificationMode.Doorbell && !ReferenceEquals(handlers, disarmed))
            {
                // A spinning loop needs no notifications: tell the peer of every new handler before it costs kicks.
                foreach (INotificationHandler h in handlers)
                {
                    if (Array.IndexOf(disarmed, h) >= 0) continue;
                    try { h.DisarmNotifications(); }
                    catch (Exception e) { Fault(h, e); }
                }
                disarmed = handlers;
            }
            bool did = false;
            foreach (INotificationHandler h in handlers)
            {
                try { did |= h.Process(); }
                catch (Exception e) { Fault(h, e); }
            }
            if (did)
            {
                idleSince = 0;
                continue;
            }
            if (Mode == NotificationMode.Polling)
            {
                CpuRelax();
                continue;
            }
            if (Mode == NotificationMode.Adaptive)
            {
                // Read the clock once per idle stretch and then every 64 spins, not on every pass of the hot loop.
                if (idleSince == 0)
                {
                    idleSince = Stopwatch.GetTimestamp();
                    idleSpins = 0;
                }
                if ((++idleSpins & 63) != 0 || Stopwatch.GetTimestamp() - idleSince < _spinTicks)
                {
                    CpuRelax();
                    continue;
                }
            }

            bool pending = false;
            foreach (INotificationHandler h in handlers)
            {
                try { pending |= h.ArmNotifications(); }
                catch (Exception e) { Fault(h, e); }
            }
            if (pending) continue;

            Interlocked.Increment(ref _parks);
            int n = epoll_wait(_epollFd, events, MaxEvents, -1);
            if (n < 0)
            {
                int e = errno;
                if (e == EINTR) continue;
                throw SharedMemoryException.FromErrno($"epoll_wait in loop {Name}", e);
            }
            Doorbell?[] doorbells = Volatile.Read(ref _doorbells);
            for (int i = 0; i < n; i++)
            {
                ulong token = events[i].data.u64;
                if (token == WakeToken) continue; // edge-triggered eventfd: nothing to consume
                if (token < (ulong)doorbells.Length && doorbells[token] is Doorbell bell && !bell.EdgeTriggered)
                {
                    try { bell.Acknowledge(); }
                    catch (Exception e)
                    {
                        // A doorbell that fails (the peer closed its socket, say) would fire forever: stop watching it.
                        _logger.LogError(e, "loop {Loop}: doorbell {Doorbell} failed and is no longer watched", Name, bell);
                        epoll_event none = default;
                        epoll_ctl(_epollFd, EPOLL_CTL_DEL, bell.WaitFd, &none);
                        lock (_gate) _doorbells[token] = null;
                        try { DoorbellFailed?.Invoke(bell, e); }
                        catch (Exception inner) { _logger.LogError(inner, "loop {Loop}: doorbell fault callback failed", Name); }
                    }
                }
            }
            if (Mode == NotificationMode.Adaptive)
            {
                foreach (INotificationHandler h in Volatile.Read(ref _handlers))
                {
                    try { h.DisarmNotifications(); }
                    catch (Exception e) { Fault(h, e); }
                }
                idleSince = 0;
            }
        }
    }

    private void Fault(INotificationHandler handler, Exception e)
    {
        Remove(handler);
        _logger.LogError(e, "loop {Loop}: handler {Handler} failed and was removed", Name, handler);
        try { HandlerFaulted?.Invoke(handler, e); }
        catch (Exception inner) { _logger.LogError(inner, "loop {Loop}: fault callback failed", Name); }
    }

    /// <summary>A hint to the CPU that this thread is spinning (PAUSE on x86, YIELD on Arm).</summary>
    public static void CpuRelax()
    {
        if (X86Base.IsSupported) X86Base.Pause();
        else if (ArmBase.IsSupported) ArmBase.Yield();
        else Thread.SpinWait(1);
    }

    /// <summary>Stops the loop and closes its descriptors (doorbells stay with their owners).</summary>
    public void Dispose()
    {
        Stop();
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Posix.Close(_wakeFd);
        Posix.Close(_epollFd);
    }
}
