using System.Buffers;
using System.Buffers.Binary;
using AmpCan.Rpmsg;
using AmpCan.RpmsgChar.Wire;
using AmpCan.SharedMem.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AmpCan.RpmsgChar;

/// <summary>
/// An endpoint device (<c>/dev/rpmsgN</c>) as Linux's rpmsg_char.c makes it: created by RPMSG_CREATE_EPT_IOCTL (its
/// endpoint made at open and destroyed at release) or for a channel named rpmsg-raw / rpmsg_chrdev (the channel's own
/// endpoint, kept across opens). One opener at a time; reads take one message each, writes send one; once the endpoint
/// is gone every call answers EPIPE. Every call answers through the opener's <see cref="IRpmsgCharReplies"/>, at once or
/// later; nothing here blocks a caller's thread.
/// </summary>
public sealed class RpmsgEndpointDevice : RpmsgCharNode
{
    private const int MaxPending = 32;
    private readonly Lock _gate = new();
    private readonly RpmsgBus _bus;
    private readonly ILogger _logger;
    private readonly RpmsgMessageRing _queue;
    private readonly (ulong Token, int Size)[] _reads = new (ulong, int)[MaxPending];
    private readonly RateLimitedLog _dropLog = new();
    private readonly Dictionary<ulong, CancellationTokenSource> _writes = [];
    private RpmsgEndpoint? _default;
    private RpmsgEndpoint? _endpoint;
    private RpmsgCharFile? _opener;
    private RpmsgTxWaiter? _txWaiter;
    private int _readHead, _readCount;
    private ulong _pollHandle;
    private bool _pollArmed;
    private bool _gone;
    private long _dropped;

    internal RpmsgEndpointDevice(RpmsgCharDevices devices, int id, ulong nodeId, RpmsgCtrlDevice owner, RpmsgEndpointInfo info, bool channelDevice, ILogger logger)
        : base(devices, id, $"rpmsg{id}", nodeId)
    {
        Owner = owner;
        _bus = owner.Bus;
        Info = info;
        IsChannelDevice = channelDevice;
        _logger = logger;
        _queue = new RpmsgMessageRing(devices.QueueCapacity, Math.Max(1, _bus.Mtu));
    }

    /// <summary>The control device of the rpmsg device this endpoint lives on.</summary>
    public RpmsgCtrlDevice Owner { get; }

    /// <summary>The name, source and destination it was created with (sysfs name/src/dst).</summary>
    public RpmsgEndpointInfo Info { get; }

    /// <summary>True for a channel's device (its default endpoint): RPMSG_DESTROY_EPT_IOCTL is refused on it.</summary>
    public bool IsChannelDevice { get; }

    /// <summary>The remote's channel this device was made for (rpmsg-raw announced by the remote), else null.</summary>
    internal RpmsgChannel? Channel { get; init; }

    /// <summary>Messages dropped because the reader was <see cref="RpmsgCharDevices.QueueCapacity"/> messages behind.</summary>
    public long DroppedMessages => Interlocked.Read(ref _dropped);

    /// <inheritdoc/>
    public override bool IsRemoved { get { lock (_gate) return _gone; } }

    /// <inheritdoc/>
    public override bool IsOpen { get { lock (_gate) return _opener is not null; } }

    /// <summary>The endpoint's local address while it has one (open, or a channel's), else null.</summary>
    public uint? LocalAddress { get { lock (_gate) return (_endpoint ?? _default)?.Address; } }

    /// <summary>The receive callback for the channel's own endpoint (what rpmsg_ept_cb is to rpmsg_chrdev_probe).</summary>
    internal void AttachDefault(RpmsgEndpoint endpoint)
    {
        lock (_gate) _default = endpoint;
    }

    /// <summary>
    /// Opens the device: 0 and the open file, or -EBUSY (already open), -ENETRESET (its rpmsg device went away), -EINVAL
    /// (the endpoint could not be made: its fixed address is taken).
    /// </summary>
    public int Open(IRpmsgCharReplies replies, out RpmsgCharFile? file)
    {
        file = null;
        lock (_gate)
        {
            if (_opener is not null) return -RpmsgCharErrno.EBUSY;
            if (_gone) return -RpmsgCharErrno.ENETRESET;
            RpmsgEndpoint? ep = _default;
            if (ep is null)
            {
                try { ep = _bus.CreateEndpoint(Info.Name, OnMessage, Info.Source, Info.Destination); }
                catch (Exception e) when (e is RpmsgException or ArgumentException)
                {
                    _logger.LogWarning("{Device}: failed to open {Name}: {Reason}", Name, Info.Name, e.Message);
                    return -RpmsgCharErrno.EINVAL;
                }
            }
            _endpoint = ep;
            _opener = file = new RpmsgCharFile(this, replies);
            return 0;
        }
    }

    internal void Release(RpmsgCharFile file)
    {
        RpmsgEndpoint? created = null;
        bool free;
        lock (_gate)
        {
            if (_opener != file) return;
            _opener = null;
            if (_endpoint is not null && _endpoint != _default) created = _endpoint;
            _endpoint = null;
            _queue.Clear();
            FailReadsLocked(file.Replies, RpmsgCharErrno.EPIPE);
            _pollArmed = false;
            DisarmTxLocked();
            free = _gone;
        }
        created?.Dispose();
        if (free) Devices.Free(this);
    }

    // ---- the device's loop ----

    internal void OnMessage(in RpmsgReceivedMessage message)
    {
        lock (_gate)
        {
            if (_gone) return;
            if (_readCount > 0 && _opener is { } opener)
            {
                (ulong token, int size) = _reads[_readHead];
                _readHead = (_readHead + 1) % MaxPending;
                _readCount--;
                opener.Replies.ReadDone(token, message.Payload[..Math.Min(size, message.Payload.Length)]);
                return;
            }
            if (!_queue.TryAdd(message.Payload))
            {
                Interlocked.Increment(ref _dropped);
                if (_dropLog.ShouldLog(out long s))
                    _logger.LogWarning("{Device}: reader is {Capacity} messages behind; a message from 0x{Source:x} was dropped{Suppressed}", Name, _queue.Capacity, message.Source, RateLimitedLog.Note(s));
            }
            WakePollerLocked();
        }
    }

    private void OnTransmitSpace()
    {
        lock (_gate)
        {
            if (!_pollArmed) return;
            DisarmTxLocked();
            WakePollerLocked();
        }
    }

    // ---- file operations ----

    internal void Read(RpmsgCharFile file, ulong token, int size, bool nonBlocking)
    {
        lock (_gate)
        {
            if (_opener != file || _endpoint is null)
            {
                file.Replies.Failed(token, RpmsgCharErrno.EPIPE);
                return;
            }
            if (_queue.Count > 0)
            {
                ReadOnlySpan<byte> m = _queue.Peek();
                file.Replies.ReadDone(token, m[..Math.Min(size, m.Length)]);
                _queue.Drop();
                return;
            }
            if (nonBlocking)
            {
                file.Replies.Failed(token, RpmsgCharErrno.EAGAIN);
                return;
            }
            if (_readCount == MaxPending)
            {
                // More threads blocked in read on one file than this holds: the newest is told to come back.
                file.Replies.Failed(token, RpmsgCharErrno.EAGAIN);
                return;
            }
            _reads[(_readHead + _readCount) % MaxPending] = (token, size);
            _readCount++;
        }
    }

    internal void Write(RpmsgCharFile file, ulong token, ReadOnlySpan<byte> data, bool nonBlocking)
    {
        RpmsgEndpoint? ep;
        lock (_gate) ep = _opener == file ? _endpoint : null;
        if (ep is null) { file.Replies.Failed(token, RpmsgCharErrno.EPIPE); return; }
        uint destination = Info.Destination;
        // rpmsg_send_offchannel_raw: an ANY address is EINVAL before the size is looked at.
        if (destination == RpmsgAddress.Any) { file.Replies.Failed(token, RpmsgCharErrno.EINVAL); return; }
        if (data.Length > _bus.Mtu) { file.Replies.Failed(token, RpmsgCharErrno.EMSGSIZE); return; }
        try
        {
            if (ep.TrySendTo(destination, data)) { file.Replies.WriteDone(token, data.Length); return; }
        }
        catch (RpmsgException e)
        {
            file.Replies.Failed(token, ErrnoOf(e));
            return;
        }
        if (nonBlocking) { file.Replies.Failed(token, RpmsgCharErrno.EAGAIN); return; }
        SendWhenBufferFrees(file, ep, destination, token, data);
    }

    // The slow path, taken only when every transmit buffer is out: the message is copied and sent from a pool thread
    // that waits for a buffer as rpmsg_sendto does (up to the bus's send timeout), so the caller's thread never blocks.
    private void SendWhenBufferFrees(RpmsgCharFile file, RpmsgEndpoint ep, uint destination, ulong token, ReadOnlySpan<byte> data)
    {
        byte[] copy = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(copy);
        int length = data.Length;
        var cancel = new CancellationTokenSource();
        lock (_gate) _writes[token] = cancel;
        ThreadPool.UnsafeQueueUserWorkItem(_ =>
        {
            try
            {
                ep.SendTo(destination, copy.AsSpan(0, length), cancellation: cancel.Token);
                file.Replies.WriteDone(token, length);
            }
            catch (RpmsgException e) { file.Replies.Failed(token, ErrnoOf(e)); }
            catch (Exception e)
            {
                _logger.LogError(e, "{Device}: a blocked write failed", Name);
                file.Replies.Failed(token, RpmsgCharErrno.EPIPE);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(copy);
                lock (_gate) _writes.Remove(token);
                cancel.Dispose();
            }
        }, null);
    }

    internal uint Poll(RpmsgCharFile file, ulong pollHandle, bool scheduleNotify)
    {
        lock (_gate)
        {
            if (_opener != file || _endpoint is null) return RpmsgCharPollEvents.Err;
            uint mask = 0;
            if (_queue.Count > 0) mask |= RpmsgCharPollEvents.In | RpmsgCharPollEvents.RdNorm;
            if (_bus.HasFreeTxBuffer) mask |= RpmsgCharPollEvents.Out;
            if (scheduleNotify)
            {
                _pollHandle = pollHandle;
                _pollArmed = true;
                if ((mask & RpmsgCharPollEvents.Out) == 0) ArmTxLocked();
            }
            return mask;
        }
    }

    /// <summary>Bytes <paramref name="command"/> writes to its pointer argument (an unrestricted front end, CUSE, asks for them first); none is read from it.</summary>
    public static int IoctlOutputSize(uint command) => command == RpmsgCharIoctl.GetOutgoingFlowControl ? sizeof(int) : 0;

    internal int Ioctl(RpmsgCharFile file, uint command, ulong argument, Span<byte> output, out int outputLength)
    {
        outputLength = 0;
        switch (command)
        {
            case RpmsgCharIoctl.GetOutgoingFlowControl:
                // rpmsg_eptdev_ioctl: put_user(remote_flow_restricted); virtio never restricts it.
                if (output.Length < sizeof(int)) return -RpmsgCharErrno.EFAULT;
                BinaryPrimitives.WriteInt32LittleEndian(output, 0);
                outputLength = sizeof(int);
                return 0;
            case RpmsgCharIoctl.SetIncomingFlowControl:
                if (argument > 1) return -RpmsgCharErrno.EINVAL;
                lock (_gate)
                    // rpmsg_set_flow_control: no endpoint is EINVAL; virtio's endpoint ops have no set_flow_control.
                    return _opener == file && _endpoint is not null ? -RpmsgCharErrno.EOPNOTSUPP : -RpmsgCharErrno.EINVAL;
            case RpmsgCharIoctl.DestroyEndpoint:
                if (IsChannelDevice) return -RpmsgCharErrno.EINVAL;
                Destroy();
                return 0;
            default:
                return -RpmsgCharErrno.EINVAL;
        }
    }

    internal void Interrupt(RpmsgCharFile file, ulong token)
    {
        CancellationTokenSource? write;
        lock (_gate)
        {
            for (int i = 0; i < _readCount; i++)
            {
                int at = (_readHead + i) % MaxPending;
                if (_reads[at].Token != token) continue;
                for (int j = i; j < _readCount - 1; j++)
                    _reads[(_readHead + j) % MaxPending] = _reads[(_readHead + j + 1) % MaxPending];
                _readCount--;
                file.Replies.Failed(token, RpmsgCharErrno.EINTR);
                return;
            }
            _writes.TryGetValue(token, out write);
        }
        try { write?.Cancel(); }
        catch (ObjectDisposedException) { } // finished meanwhile
    }

    /// <summary>
    /// Removes the device as rpmsg_chrdev_eptdev_destroy does: the endpoint goes (unless it is a channel's, which its
    /// channel owns), blocked readers and later calls get EPIPE, pollers see POLLERR, the file disappears. Idempotent.
    /// </summary>
    public void Destroy()
    {
        RpmsgEndpoint? created;
        lock (_gate)
        {
            if (_gone) return;
            _gone = true;
            created = _endpoint is not null && _endpoint != _default ? _endpoint : null;
            _endpoint = null;
            if (_opener is { } opener) FailReadsLocked(opener.Replies, RpmsgCharErrno.EPIPE);
            WakePollerLocked();
            DisarmTxLocked();
        }
        created?.Dispose();
        Devices.Remove(this);
        if (!IsOpen) Devices.Free(this);
    }

    private void FailReadsLocked(IRpmsgCharReplies replies, int errno)
    {
        while (_readCount > 0)
        {
            ulong token = _reads[_readHead].Token;
            _readHead = (_readHead + 1) % MaxPending;
            _readCount--;
            replies.Failed(token, errno);
        }
    }

    private void WakePollerLocked()
    {
        if (!_pollArmed || _opener is not { } opener) return;
        _pollArmed = false;
        opener.Replies.PollReady(_pollHandle);
    }

    private void ArmTxLocked()
    {
        if (_txWaiter is not null) return;
        _txWaiter = _bus.CreateTxWaiter();
        _bus.TransmitSpaceAvailable += OnTransmitSpace;
        // Arm says a buffer may be free already: wake at once rather than wait for a notification that may not come.
        if (_txWaiter.Arm()) ThreadPool.UnsafeQueueUserWorkItem(_ => OnTransmitSpace(), null);
    }

    private void DisarmTxLocked()
    {
        if (_txWaiter is null) return;
        _bus.TransmitSpaceAvailable -= OnTransmitSpace;
        _txWaiter.Dispose();
        _txWaiter = null;
    }

    private static int ErrnoOf(RpmsgException e) => e.Error switch
    {
        RpmsgError.MessageTooLarge => RpmsgCharErrno.EMSGSIZE,
        RpmsgError.NoBuffer => RpmsgCharErrno.EAGAIN,
        RpmsgError.Timeout => RpmsgCharErrno.ETIMEDOUT,
        RpmsgError.Cancelled => RpmsgCharErrno.EINTR,
        RpmsgError.InvalidAddress => RpmsgCharErrno.EINVAL,
        _ => RpmsgCharErrno.EPIPE, // the endpoint or its device is gone
    };
}
