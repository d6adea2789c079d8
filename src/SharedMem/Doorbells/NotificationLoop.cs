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
    /// <summary>Spin for a while after the last work (a budget learned from recent traffic), then arm notifications and park.</summary>
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

    /// <summary>True while another thread polls this handler's work itself (a thread waiting for a reply): the loop need not spin for it.</summary>
    bool IsPolledElsewhere => false;
}

/// <summary>
/// The event loop of one remote: a single thread that drives every handler, spinning or parking in epoll on all
/// doorbells at once, per <see cref="NotificationMode"/>. A handler that throws is removed (it costs that channel,
/// not the loop); a failure of the loop itself (epoll) is reported to every handler's owner and ends the loop, never the process.
/// </summary>
public sealed unsafe class NotificationLoop : IDisposable
{
    private const ulong WakeToken = ulong.MaxValue;
    private const int SpinsPerCheck = 64;      // passes between clock reads while idle
    private const int ChecksPerYield = 16;     // clock reads between giving the CPU to any runnable thread
    private readonly ILogger _logger;
    private readonly string _owner; // named in ObjectDisposedException; built once, not per wake-up
    private readonly FileDescriptorHandle _epoll;
    private readonly FileDescriptorHandle _wake;
    private readonly long _maxSpinTicks;
    private long _spinTicks;
    private readonly SpinAllowance _allowance;
    private readonly Lock _gate = new();
    private INotificationHandler[] _handlers = [];
    private Doorbell?[] _doorbells = [];
    private FileDescriptorHandle?[] _waits = [];   // what each watched doorbell was registered with, for removal
    private long _passes;
    private int _threadId;                           // the kernel's id of the thread running the loop, for CpuTime                            // loop passes begun, so that a caller can wait for the current one to end
    private Thread? _thread;
    private int _mayPark; // 1 from just before the handlers arm until epoll returns: WakeIfParking must write
    private Thread? _runner;
    private readonly ManualResetEventSlim _exited = new(true);
    private volatile bool _stopping;
    private long _parks;
    private Exception? _failure;

    /// <summary>
    /// Creates a loop; handlers are added before or after <see cref="Start"/>. <paramref name="spinBudget"/> is the
    /// longest an adaptive loop spins after its last work; <paramref name="allowance"/> the group whose spinning threads
    /// it counts against (default <see cref="SpinAllowance.Host"/>).
    /// </summary>
    public NotificationLoop(string name, NotificationMode mode, TimeSpan? spinBudget = null, ILogger? logger = null, SpinAllowance? allowance = null)
    {
        Name = name;
        _owner = $"loop {name}";
        Mode = mode;
        _maxSpinTicks = _spinTicks = (long)((spinBudget ?? TimeSpan.FromMicroseconds(50)).TotalSeconds * Stopwatch.Frequency);
        _allowance = allowance ?? SpinAllowance.Host;
        _logger = logger ?? NullLogger.Instance;
        _epoll = new FileDescriptorHandle(Posix.Check(epoll_create1(EPOLL_CLOEXEC), "epoll_create1"));
        _wake = new FileDescriptorHandle(EventFdDoorbell.CreateEventFd());
        Register(_wake, WakeToken, edgeTriggered: true);
    }

    /// <summary>Name of the loop's thread.</summary>
    public string Name { get; }

    /// <summary>How the loop waits.</summary>
    public NotificationMode Mode { get; }

    /// <summary>The spinning-thread group this loop counts against.</summary>
    public SpinAllowance Allowance => _allowance;

    /// <summary>True when called from the thread running the loop (a handler or a callback it made).</summary>
    public bool IsCurrentThread => Volatile.Read(ref _runner) == Thread.CurrentThread;

    /// <summary>How many times the loop has parked in epoll (a measure of wake-ups).</summary>
    public long Parks => Interlocked.Read(ref _parks);

    /// <summary>How long an adaptive loop now spins before it parks (learned from recent traffic, at most the budget it was given).</summary>
    public TimeSpan SpinBudget => TimeSpan.FromSeconds(Volatile.Read(ref _spinTicks) / (double)Stopwatch.Frequency);

    /// <summary>CPU time the thread running the loop has used (its cost: divide by the messages it moved); null before it ran.</summary>
    /// <remarks>The thread's whole time: a loop run on a caller's thread (<see cref="Run"/>) counts what that thread did before.</remarks>
    public TimeSpan? CpuTime => ThreadCpuTime.Of(Volatile.Read(ref _threadId));

    /// <summary>Why the loop stopped on its own (epoll failed), or null.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Raised on the loop thread when a handler threw and was removed; also, for every handler, when the loop itself fails.</summary>
    public event Action<INotificationHandler, Exception>? HandlerFaulted;

    /// <summary>Raised on the loop thread when a doorbell failed (the peer closed it) and is no longer watched.</summary>
    public event Action<Doorbell, Exception>? DoorbellFailed;

    /// <summary>Adds a handler and the doorbell that announces its work (null when the peer never rings).</summary>
    public void Add(INotificationHandler handler, Doorbell? incoming = null) => Add(handler, incoming is null ? [] : [incoming]);

    /// <summary>Adds a handler and every doorbell that announces its work (one per queue where the transport has one each).</summary>
    public void Add(INotificationHandler handler, IEnumerable<Doorbell> incoming)
    {
        lock (_gate)
        {
            foreach (Doorbell bell in incoming) WatchLocked(bell);
            _handlers = [.. _handlers, handler];
        }
        // A loop that has not started sees the handler on its first pass; waking it would only cost a spurious park.
        if (Volatile.Read(ref _thread) is not null || Volatile.Read(ref _runner) is not null) Wake();
    }

    private void WatchLocked(Doorbell incoming)
    {
        if (Array.IndexOf(_doorbells, incoming) >= 0) return;
        // A doorbell from another assembly has only its number: it keeps its descriptor open while registered.
        FileDescriptorHandle? wait = incoming.WaitDescriptor ?? (incoming.WaitFd >= 0 ? new FileDescriptorHandle(incoming.WaitFd, ownsDescriptor: false) : null);
        if (wait is null) return;
        Register(wait, (ulong)_doorbells.Length, incoming.EdgeTriggered);
        _doorbells = [.. _doorbells, incoming];
        _waits = [.. _waits, wait];
    }

    /// <summary>Removes a handler; its doorbells stay watched (others may share them) until <see cref="Unwatch"/>.</summary>
    public void Remove(INotificationHandler handler)
    {
        lock (_gate) _handlers = _handlers.Where(h => h != handler).ToArray();
    }

    /// <summary>
    /// Removes a handler and returns once the loop can no longer be running it: the pass that may have seen it has
    /// ended (immediately on the loop thread itself, or when the loop is not running).
    /// </summary>
    public void RemoveAndWait(INotificationHandler handler)
    {
        Remove(handler);
        if (IsCurrentThread || Volatile.Read(ref _runner) is null) return;
        long pass = Volatile.Read(ref _passes);
        Wake();
        var spin = new SpinWait();
        while (Volatile.Read(ref _passes) == pass && Volatile.Read(ref _runner) is not null) spin.SpinOnce();
    }

    /// <summary>Stops watching <paramref name="incoming"/> (before its owner closes it); does nothing if it is not watched.</summary>
    public void Unwatch(Doorbell incoming)
    {
        lock (_gate)
        {
            int i = Array.IndexOf(_doorbells, incoming);
            if (i < 0) return;
            Unregister(_waits[i]);
            _doorbells[i] = null;
            _waits[i] = null;
        }
    }

    private void Unregister(FileDescriptorHandle? wait)
    {
        if (wait is null) return;
        try
        {
            int epoll = _epoll.Enter(_owner);
            try
            {
                int fd = wait.Enter("doorbell");
                epoll_event none = default;
                try { epoll_ctl(epoll, EPOLL_CTL_DEL, fd, &none); }
                finally { wait.Exit(); }
            }
            finally { _epoll.Exit(); }
        }
        catch (ObjectDisposedException) { } // a closed descriptor is already out of the set; a disposed loop has no set
    }

    // Both descriptors are held for the call: neither number can be closed and reused under it.
    private void Register(FileDescriptorHandle watched, ulong token, bool edgeTriggered)
    {
        epoll_event ev = default;
        ev.events = edgeTriggered ? EPOLLIN | EPOLLET : EPOLLIN;
        ev.data.u64 = token;
        int epoll = _epoll.Enter(_owner);
        try
        {
            int fd = watched.Enter("doorbell");
            try { Posix.Check(epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev), $"epoll_ctl add fd {fd} to loop {Name}"); }
            finally { watched.Exit(); }
        }
        finally { _epoll.Exit(); }
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

    /// <summary>
    /// Wakes the loop only when it may be parking, for work a handler's <c>ArmNotifications</c> looks for (a frame
    /// queued where its handler takes them): a fence instead of a system call while the loop runs, nothing from the
    /// loop's own thread.
    /// </summary>
    public void WakeIfParking()
    {
        if (IsCurrentThread) return;
        Interlocked.MemoryBarrier(); // the caller's work is visible before the flag is read (the loop fences the other way)
        if (Volatile.Read(ref _mayPark) != 0) Wake();
    }

    /// <summary>Makes a parked loop look at its handlers again (for work posted from another thread); does nothing once disposed.</summary>
    public void Wake()
    {
        // The reference keeps the descriptor from being closed (and its number reused by another open) during the write.
        int fd;
        try { fd = _wake.Enter(_owner); }
        catch (ObjectDisposedException) { return; } // waking a loop that is gone has nothing left to wake
        try
        {
            ulong one = 1;
            Posix.Write(fd, &one, 8);
        }
        finally { _wake.Exit(); }
    }

    /// <summary>Stops the loop and waits until it has left <see cref="Run"/> (unless called from the loop itself).</summary>
    public void Stop()
    {
        _stopping = true;
        Wake();
        if (Volatile.Read(ref _runner) != Thread.CurrentThread && !_wake.IsDisposed) _exited.Wait();
    }

    /// <summary>Runs the loop on the calling thread until <see cref="Stop"/>; a failure of the loop itself is reported, not thrown.</summary>
    public void Run()
    {
        if (Interlocked.CompareExchange(ref _runner, Thread.CurrentThread, null) is not null)
            throw new InvalidOperationException($"loop {Name} is already running");
        _exited.Reset();
        bool entered = false;
        try
        {
            int epoll = _epoll.Enter(_owner);
            entered = true;
            Volatile.Write(ref _threadId, ThreadCpuTime.CurrentThreadId());
            RunLoop(epoll);
        }
        catch (Exception e)
        {
            // Nothing the kernel or a peer does may end the process from this thread: fail every handler's owner instead.
            FailLoop(e is ObjectDisposedException ? new ObjectDisposedException(Name, $"loop {Name} was disposed while running") : e);
        }
        finally
        {
            if (entered) _epoll.Exit();
            Volatile.Write(ref _runner, null);
            _exited.Set();
        }
    }

    private void FailLoop(Exception e)
    {
        Volatile.Write(ref _failure, e);
        _logger.LogError("loop {Loop} stopped: {Reason}", Name, e.Message);
        INotificationHandler[] all;
        lock (_gate)
        {
            all = _handlers;
            _handlers = [];
        }
        foreach (INotificationHandler h in all)
        {
            try { HandlerFaulted?.Invoke(h, e); }
            catch (Exception inner) { _logger.LogError(inner, "loop {Loop}: fault callback failed", Name); }
        }
    }

    private void RunLoop(int epollFd)
    {
        const int MaxEvents = 16;
        epoll_event* events = stackalloc epoll_event[MaxEvents];
        long idleSince = 0;  // when the current idle stretch began; 0 while working
        int idleSpins = 0;
        bool holdsSpin = false;
        INotificationHandler[] disarmed = [];
        while (!_stopping)
        {
            Volatile.Write(ref _passes, _passes + 1); // only this thread writes it: a plain store, no locked instruction per pass
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
            if (Mode == NotificationMode.Adaptive && IdleSpin(handlers, ref idleSince, ref idleSpins, ref holdsSpin)) continue;
            if (holdsSpin)
            {
                _allowance.ExitLoop();
                holdsSpin = false;
            }

            // From here until epoll returns the loop may park: WakeIfParking callers must write the eventfd. Set with a
            // full fence before the handlers look for work, so that work queued before a waker read 0 is seen here.
            Interlocked.Exchange(ref _mayPark, 1);
            bool pending = false;
            foreach (INotificationHandler h in handlers)
            {
                try { pending |= h.ArmNotifications(); }
                catch (Exception e) { Fault(h, e); }
            }
            if (pending)
            {
                Volatile.Write(ref _mayPark, 0);
                idleSince = 0;
                continue;
            }

            Interlocked.Increment(ref _parks);
            long parkedAt = Stopwatch.GetTimestamp();
            int n = epoll_wait(epollFd, events, MaxEvents, -1);
            Volatile.Write(ref _mayPark, 0);
            if (n < 0)
            {
                int e = errno;
                if (e == EINTR) continue;
                throw SharedMemoryException.FromErrno($"epoll_wait in loop {Name}", e);
            }
            if (Mode == NotificationMode.Adaptive) Learn(Stopwatch.GetTimestamp() - parkedAt);
            AcknowledgeDoorbells(events, n);
            if (Mode == NotificationMode.Adaptive)
            {
                foreach (INotificationHandler h in Volatile.Read(ref _handlers))
                {
                    try { h.DisarmNotifications(); }
                    catch (Exception e) { Fault(h, e); }
                }
            }
            idleSince = 0;
        }
        if (holdsSpin) _allowance.ExitLoop();
    }

    // One pass of an adaptive loop's idle spin; false when it is time to park.
    private bool IdleSpin(INotificationHandler[] handlers, ref long idleSince, ref int idleSpins, ref bool holdsSpin)
    {
        if (idleSince == 0)
        {
            // Read the clock once per idle stretch and then every few dozen passes, not on every pass of the hot loop.
            idleSince = Stopwatch.GetTimestamp();
            idleSpins = 0;
            if (Volatile.Read(ref _spinTicks) == 0 || PolledElsewhere(handlers)) return false;
            if (!holdsSpin)
            {
                if (!_allowance.TryEnterLoop()) return false;
                holdsSpin = true;
            }
        }
        if (++idleSpins % SpinsPerCheck != 0)
        {
            CpuRelax();
            return true;
        }
        if (Stopwatch.GetTimestamp() - idleSince >= Volatile.Read(ref _spinTicks) || _allowance.LoopShouldYield || PolledElsewhere(handlers)) return false;
        // Give the core to any thread that became runnable on it (the one our work woke, say); free when none is.
        if (idleSpins % (SpinsPerCheck * ChecksPerYield) == 0) Thread.Yield();
        return true;
    }

    private static bool PolledElsewhere(INotificationHandler[] handlers)
    {
        foreach (INotificationHandler h in handlers)
            if (h.IsPolledElsewhere) return true;
        return false;
    }

    // As Linux's haltpoll governor: a wake-up that came soon after parking means the spin was too short (double it, up
    // to the budget); a long sleep means spinning would not have helped (halve it, down to nothing).
    private void Learn(long parkedTicks)
    {
        long spin = _spinTicks;
        if (parkedTicks < _maxSpinTicks) spin = Math.Min(_maxSpinTicks, Math.Max(spin * 2, _maxSpinTicks / 8));
        else spin = spin < _maxSpinTicks / 64 ? 0 : spin / 2;
        Volatile.Write(ref _spinTicks, spin);
    }

    private void AcknowledgeDoorbells(epoll_event* events, int n)
    {
        Doorbell?[] doorbells = Volatile.Read(ref _doorbells);
        for (int i = 0; i < n; i++)
        {
            ulong token = events[i].data.u64;
            if (token == WakeToken) continue; // edge-triggered eventfd: nothing to consume
            if (token >= (ulong)doorbells.Length || doorbells[token] is not Doorbell bell || bell.EdgeTriggered) continue;
            try { bell.Acknowledge(); }
            catch (Exception e)
            {
                // A doorbell that fails (the peer closed its socket, say) would fire forever: stop watching it.
                // A peer closing its doorbell is an ordinary event its owner reports (once); the loop only notes it.
                if (e is DoorbellClosedException) _logger.LogDebug("loop {Loop}: {Reason}; no longer watched", Name, e.Message);
                else _logger.LogError("loop {Loop}: doorbell {Doorbell} failed and is no longer watched: {Reason}", Name, bell, e.Message);
                lock (_gate)
                {
                    Unregister(_waits[token]);
                    _doorbells[token] = null;
                    _waits[token] = null;
                }
                try { DoorbellFailed?.Invoke(bell, e); }
                catch (Exception inner) { _logger.LogError(inner, "loop {Loop}: doorbell fault callback failed", Name); }
            }
        }
    }

    private void Fault(INotificationHandler handler, Exception e)
    {
        Remove(handler);
        _logger.LogError("loop {Loop}: handler {Handler} failed and was removed: {Reason}", Name, handler, e.Message);
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

    /// <summary>Stops the loop and closes its descriptors (doorbells stay with their owners); safe to call twice.</summary>
    public void Dispose()
    {
        if (_thread is not null || Volatile.Read(ref _runner) is not null) Stop();
        // A Wake racing with this close holds a reference, so the number is not reused under it.
        _wake.Dispose();
        _epoll.Dispose();
    }
}
