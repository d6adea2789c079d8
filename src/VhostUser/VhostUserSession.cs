using System.Buffers.Binary;
using System.Net.Sockets;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Diagnostics;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VhostUser.Wire;
using AmpCan.Vring;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace AmpCan.VhostUser;

/// <summary>
/// One front end's session: its negotiated features, memory table and rings, and the device activated over them once
/// every queue is started. Runs on the back end's socket thread; the device runs on its loop.
/// </summary>
/// <remarks>
/// Every request is checked before anything changes: a request that fails leaves the session as it was. A request
/// error is answered with a non-zero REPLY_ACK where the front end asked for an answer (an empty reply for
/// GET_CONFIG), and closes the connection otherwise, since the front end would go on believing it succeeded.
/// </remarks>
internal sealed class VhostUserSession : IDisposable
{
    private const ulong ProtocolFeaturesBit = 1UL << VhostUserFeatures.ProtocolFeatures;

    private readonly VhostUserConnection _connection;
    private readonly IVirtioDevice _device;
    private readonly NotificationLoop _loop;
    private readonly VhostUserBackendOptions _options;
    private readonly ILogger _logger;
    private readonly RateLimitedLog _peerLog;
    private readonly string _name;
    private readonly ulong _offeredFeatures;
    private readonly VhostUserProtocolFeatures _offeredProtocol;
    private readonly VhostUserRegisters _registers;
    private readonly VringSetup[] _rings;
    private readonly List<SafeFileHandle> _fds = new(MemoryTableDescription.MaxRegions);
    private ulong _ackedFeatures;
    private VhostUserProtocolFeatures _protocol;
    private GuestMemoryTable? _memory;
    private readonly VhostUserDeviceActivation _activation;
    private volatile BackendRequestChannel? _backendChannel;

    public VhostUserSession(VhostUserConnection connection, IVirtioDevice device, NotificationLoop loop, VhostUserBackendOptions options,
        ILogger logger, RateLimitedLog peerLog, string name)
    {
        _connection = connection;
        _device = device;
        _loop = loop;
        _options = options;
        _logger = logger;
        _peerLog = peerLog;
        _name = name;
        _offeredFeatures = VhostUserFeatures.Offered(device);
        _offeredProtocol = VhostUserFeatures.OfferedProtocol(device);
        _registers = new VhostUserRegisters(device, _offeredFeatures, SignalNeedsReset);
        _rings = new VringSetup[device.QueueCount];
        for (int i = 0; i < _rings.Length; i++) _rings[i] = new VringSetup(i, name);
        _activation = new VhostUserDeviceActivation(device, loop, _registers, logger, name);
    }

    /// <summary>True while the device is activated over this session's rings.</summary>
    public bool IsActive => _activation.IsActive;

    /// <summary>Why the session ended (set when <see cref="Run"/> returns).</summary>
    public string EndReason { get; private set; } = "not ended";

    /// <summary>Serves requests until the front end leaves or breaks the protocol beyond an answer.</summary>
    public void Run()
    {
        while (true)
        {
            VhostUserHeader header = default;
            try
            {
                if (!_connection.TryRead(out header, _fds))
                {
                    EndReason = "the front end closed the connection";
                    return;
                }
                Handle(header);
            }
            catch (VhostUserProtocolException e)
            {
                // Closed before the answer: a front end that reads the refusal may count its descriptors at once.
                CloseUnkept();
                if (!Answer(header, e))
                {
                    EndReason = $"protocol error: {e.Message}";
                    return;
                }
            }
            catch (SocketException e)
            {
                EndReason = $"the connection failed: {e.Message}";
                return;
            }
            catch (Exception e)
            {
                // Not the front end's doing and not ours to crash on: this session ends, the back end serves the next.
                _logger.LogError(e, "vhost-user {Name}: request {Request} failed; closing the connection", _name, RequestName(header.Request));
                EndReason = $"internal error: {e.Message}";
                return;
            }
            finally
            {
                CloseUnkept();
            }
        }
    }

    // Descriptors that came with a request and that no request kept.
    private void CloseUnkept()
    {
        foreach (SafeFileHandle fd in _fds) fd.Dispose();
        _fds.Clear();
    }

    // A refused request: answered where the front end waits for an answer (true: go on), else the connection closes.
    private bool Answer(VhostUserHeader header, VhostUserProtocolException e)
    {
        var request = (VhostUserRequest)header.Request;
        string answer;
        bool goOn = false;
        if (e.CloseConnection) answer = "closing the connection";
        else if (request == VhostUserRequest.GetConfig)
        {
            // vhost-user.rst: an empty config payload is the error reply.
            answer = "answered with an empty config reply";
            goOn = TryReply(request, []);
        }
        else if (header.NeedsReply && Has(VhostUserProtocolFeatures.ReplyAck) && !HasExplicitReply(request))
        {
            answer = "answered with a failed REPLY_ACK";
            goOn = TryReply(request, 1);
        }
        else answer = "closing the connection (the front end asked for no answer)";
        if (_peerLog.ShouldLog(out long suppressed))
            _logger.LogWarning("vhost-user {Name}: {Request} refused: {Reason}; {Answer}{Suppressed}", _name, RequestName(header.Request), e.Message, answer, RateLimitedLog.Note(suppressed));
        return goOn;
    }

    private bool TryReply(VhostUserRequest request, ReadOnlySpan<byte> payload)
    {
        try
        {
            _connection.Reply(request, payload);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    private bool TryReply(VhostUserRequest request, ulong value)
    {
        Span<byte> p = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(p, value);
        return TryReply(request, p);
    }

    private static bool HasExplicitReply(VhostUserRequest request) => request is VhostUserRequest.GetFeatures or VhostUserRequest.GetProtocolFeatures
        or VhostUserRequest.GetVringBase or VhostUserRequest.GetConfig or VhostUserRequest.GetQueueNum or VhostUserRequest.GetMaxMemSlots
        or VhostUserRequest.GetStatus;

    private static string RequestName(uint request) =>
        Enum.IsDefined((VhostUserRequest)request) ? ((VhostUserRequest)request).ToString() : $"request {request}";

    private bool Has(VhostUserProtocolFeatures feature) => (_protocol & feature) != 0;

    private void Handle(VhostUserHeader header)
    {
        var request = (VhostUserRequest)header.Request;
        ReadOnlySpan<byte> payload = _connection.Payload(header);
        if (_fds.Count != 0 && request is not (VhostUserRequest.SetMemTable or VhostUserRequest.SetVringKick or VhostUserRequest.SetVringCall
            or VhostUserRequest.SetVringErr or VhostUserRequest.SetBackendReqFd))
            throw new VhostUserProtocolException($"{RequestName(header.Request)} came with {_fds.Count} file descriptor(s); it takes none (closed)");
        switch (request)
        {
            case VhostUserRequest.GetFeatures:
                Expect(payload, 0, request);
                _connection.Reply(request, _offeredFeatures);
                return; // an explicit reply: REPLY_ACK adds nothing
            case VhostUserRequest.SetFeatures:
                SetFeatures(U64(payload, request));
                break;
            case VhostUserRequest.GetProtocolFeatures:
                Expect(payload, 0, request);
                _connection.Reply(request, (ulong)_offeredProtocol);
                return;
            case VhostUserRequest.SetProtocolFeatures:
                SetProtocolFeatures(U64(payload, request));
                break;
            case VhostUserRequest.SetOwner:
                Expect(payload, 0, request);
                break; // the connection is the session; a repeated SET_OWNER changes nothing
            case VhostUserRequest.ResetOwner:
                Expect(payload, 0, request);
                // Deprecated; vhost-user.rst recommends reading it as "disable all rings".
                Deactivate("RESET_OWNER");
                foreach (VringSetup r in _rings) StopRing(r);
                foreach (VringSetup r in _rings) r.Enabled = false;
                break;
            case VhostUserRequest.ResetDevice:
                Expect(payload, 0, request);
                Require(VhostUserProtocolFeatures.ResetDevice, request);
                ResetDevice();
                break;
            case VhostUserRequest.SetMemTable:
                SetMemTable(payload);
                break;
            case VhostUserRequest.SetVringNum:
                SetVringNum(State(payload, request));
                break;
            case VhostUserRequest.SetVringAddr:
                SetVringAddr(payload);
                break;
            case VhostUserRequest.SetVringBase:
                SetVringBase(State(payload, request));
                break;
            case VhostUserRequest.GetVringBase:
                GetVringBase(State(payload, request));
                return;
            case VhostUserRequest.SetVringKick:
            case VhostUserRequest.SetVringCall:
            case VhostUserRequest.SetVringErr:
                SetVringFd(request, U64(payload, request));
                break;
            case VhostUserRequest.SetVringEnable:
                SetVringEnable(State(payload, request));
                break;
            case VhostUserRequest.GetConfig:
                GetConfig(payload);
                return;
            case VhostUserRequest.SetConfig:
                SetConfig(payload);
                break;
            case VhostUserRequest.SetBackendReqFd:
                SetBackendReqFd(payload);
                break;
            default:
                throw new VhostUserProtocolException($"{RequestName(header.Request)} is not supported by this back end (its protocol feature was not offered)");
        }
        if (_fds.Count != 0)
            throw new VhostUserProtocolException($"{RequestName(header.Request)} came with {_fds.Count} file descriptor(s) it does not take (closed)");
        TryActivate();
        if (header.NeedsReply && Has(VhostUserProtocolFeatures.ReplyAck)) _connection.Reply(request, 0);
    }

    // ---- payload checks ----------------------------------------------------------------------------------------

    private static void Expect(ReadOnlySpan<byte> payload, int length, VhostUserRequest request)
    {
        if (payload.Length != length)
            throw new VhostUserProtocolException($"{request} with {payload.Length} payload bytes (it has {length})");
    }

    private static ulong U64(ReadOnlySpan<byte> payload, VhostUserRequest request)
    {
        Expect(payload, 8, request);
        return BinaryPrimitives.ReadUInt64LittleEndian(payload);
    }

    private static VringState State(ReadOnlySpan<byte> payload, VhostUserRequest request)
    {
        Expect(payload, VringState.Length, request);
        return VringState.Read(payload);
    }

    private void Require(VhostUserProtocolFeatures feature, VhostUserRequest request)
    {
        if (!Has(feature)) throw new VhostUserProtocolException($"{request} without protocol feature {feature} negotiated");
    }

    private VringSetup Ring(uint index, VhostUserRequest request)
    {
        if (index >= (uint)_rings.Length)
            throw new VhostUserProtocolException($"{request} for queue {index}; the device has {_rings.Length}");
        return _rings[index];
    }

    private void RequireStopped(VringSetup ring, VhostUserRequest request)
    {
        if (_activation.IsActive) throw new VhostUserProtocolException($"{request} for queue {ring.Index} while the device runs (stop the ring with GET_VRING_BASE first)");
    }

    private List<SafeFileHandle> TakeFds(int count, VhostUserRequest request)
    {
        if (_fds.Count != count)
            throw new VhostUserProtocolException($"{request} came with {_fds.Count} file descriptor(s); it takes {count} (closed)");
        var taken = new List<SafeFileHandle>(_fds);
        _fds.Clear();
        return taken;
    }

    // ---- features ----------------------------------------------------------------------------------------------

    private void SetFeatures(ulong features)
    {
        if ((features & ~_offeredFeatures) != 0)
            throw new VhostUserProtocolException($"SET_FEATURES 0x{features:x} accepts bits never offered (0x{features & ~_offeredFeatures:x}; offered 0x{_offeredFeatures:x})");
        if (_activation.IsActive && features != _ackedFeatures)
            throw new VhostUserProtocolException($"SET_FEATURES 0x{features:x} while the device runs with 0x{_ackedFeatures:x}");
        _ackedFeatures = features;
        _registers.DriverFeatures = features & ~ProtocolFeaturesBit;
    }

    private void SetProtocolFeatures(ulong features)
    {
        var asked = (VhostUserProtocolFeatures)features;
        if ((asked & ~_offeredProtocol) != 0)
            throw new VhostUserProtocolException($"SET_PROTOCOL_FEATURES 0x{features:x} accepts bits never offered (0x{(ulong)(asked & ~_offeredProtocol):x}; offered 0x{(ulong)_offeredProtocol:x})");
        _protocol = asked;
    }

    // ---- memory ------------------------------------------------------------------------------------------------

    private void SetMemTable(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < MemoryTableDescription.HeaderLength)
            throw new VhostUserProtocolException($"SET_MEM_TABLE with {payload.Length} payload bytes, too short for a table");
        uint count = MemoryTableDescription.ReadCount(payload);
        if (count is 0 or > MemoryTableDescription.MaxRegions)
            throw new VhostUserProtocolException($"SET_MEM_TABLE with {count} regions (1 to {MemoryTableDescription.MaxRegions} allowed)");
        int length = MemoryTableDescription.LengthOf((int)count);
        // QEMU sends the regions in use; the whole 8-entry array (as struct VhostUserMemory) is accepted too.
        if (payload.Length != length && payload.Length != MemoryTableDescription.LengthOf(MemoryTableDescription.MaxRegions))
            throw new VhostUserProtocolException($"SET_MEM_TABLE with {count} regions in {payload.Length} payload bytes (expected {length})");
        var table = new MemoryRegionDescription[count];
        for (int i = 0; i < table.Length; i++) table[i] = MemoryTableDescription.ReadRegion(payload, i);
        List<SafeFileHandle> fds = TakeFds((int)count, VhostUserRequest.SetMemTable);
        GuestMemoryTable memory = GuestMemoryTable.Map(table, fds, !_options.AcceptUnsealedMemory, _name);
        foreach (MappedRegion r in memory.Regions)
        {
            if (r.ExposureWarning is string warning)
                _logger.LogWarning("vhost-user {Name}: accepted as configured, but {Warning}", _name, warning);
        }
        // The old table goes only once nothing uses it: the device is stopped first (it restarts over the new table
        // below if every ring is still started and still inside it).
        Deactivate("a new memory table");
        _memory?.Dispose();
        _memory = memory;
        _logger.LogDebug("vhost-user {Name}: memory table of {Count} regions mapped", _name, count);
    }

    // ---- rings -------------------------------------------------------------------------------------------------

    private void SetVringNum(VringState s)
    {
        VringSetup ring = Ring(s.Index, VhostUserRequest.SetVringNum);
        RequireStopped(ring, VhostUserRequest.SetVringNum);
        if (s.Num == 0 || s.Num > (uint)_device.MaxQueueSize || (s.Num & (s.Num - 1)) != 0)
            throw new VhostUserProtocolException($"SET_VRING_NUM {s.Num} for queue {s.Index}: a queue size is a power of two from 1 to {_device.MaxQueueSize}");
        ring.Size = (int)s.Num;
    }

    private void SetVringBase(VringState s)
    {
        VringSetup ring = Ring(s.Index, VhostUserRequest.SetVringBase);
        RequireStopped(ring, VhostUserRequest.SetVringBase);
        if (s.Num > ushort.MaxValue)
            throw new VhostUserProtocolException($"SET_VRING_BASE {s.Num} for queue {s.Index}: a split ring's index has 16 bits");
        ring.Base = (ushort)s.Num;
    }

    private void SetVringAddr(ReadOnlySpan<byte> payload)
    {
        Expect(payload, VringAddress.Length, VhostUserRequest.SetVringAddr);
        VringAddress a = VringAddress.Read(payload);
        VringSetup ring = Ring(a.Index, VhostUserRequest.SetVringAddr);
        RequireStopped(ring, VhostUserRequest.SetVringAddr);
        if (a.Flags != 0)
            throw new VhostUserProtocolException($"SET_VRING_ADDR for queue {a.Index} with flags 0x{a.Flags:x} (used-ring logging was not offered)");
        if (_memory is null) throw new VhostUserProtocolException($"SET_VRING_ADDR for queue {a.Index} before any SET_MEM_TABLE");
        if (ring.Size == 0) throw new VhostUserProtocolException($"SET_VRING_ADDR for queue {a.Index} before its SET_VRING_NUM");
        ring.Map(a, _memory); // checked now, so the front end learns of a bad address from this request
        ring.Address = a;
    }

    private void SetVringFd(VhostUserRequest request, ulong value)
    {
        if (!VringFileIndex.TryDecode(value, out VringFileIndex f))
            throw new VhostUserProtocolException($"{request} with 0x{value:x}: bits other than the queue index and the no-fd bit are set");
        VringSetup ring = Ring((uint)f.Index, request);
        List<SafeFileHandle> fds = TakeFds(f.NoDescriptor ? 0 : 1, request);
        SafeFileHandle? fd = f.NoDescriptor ? null : fds[0];
        try
        {
            if (fd is not null) UnixFdChannel.RequireEventFd(fd, $"the {request} descriptor of queue {f.Index}");
            switch (request)
            {
                case VhostUserRequest.SetVringKick:
                    if (fd is null) throw new VhostUserProtocolException($"SET_VRING_KICK without a descriptor for queue {f.Index}: polled rings are not supported");
                    RequireStopped(ring, request);
                    ring.Kick?.Dispose(); // not watched: the device is stopped
                    ring.Kick = new KickEventFd(fd, $"{_name} kick fd of queue {f.Index}");
                    break;
                case VhostUserRequest.SetVringCall:
                    ring.Call.Replace(fd); // also while the device runs: QEMU replaces call fds after enabling
                    break;
                default:
                    ring.Error.Replace(fd);
                    break;
            }
        }
        catch (SharedMemoryException e)
        {
            fd?.Dispose();
            throw new VhostUserProtocolException(e.Message);
        }
        catch
        {
            fd?.Dispose();
            throw;
        }
    }

    private void SetVringEnable(VringState s)
    {
        VringSetup ring = Ring(s.Index, VhostUserRequest.SetVringEnable);
        if ((_ackedFeatures & ProtocolFeaturesBit) == 0)
            throw new VhostUserProtocolException("SET_VRING_ENABLE without VHOST_USER_F_PROTOCOL_FEATURES negotiated");
        if (s.Num > 1) throw new VhostUserProtocolException($"SET_VRING_ENABLE {s.Num} for queue {s.Index} (0 or 1)");
        if (s.Num == 0)
        {
            ring.Enabled = false;
            Deactivate($"queue {s.Index} disabled");
        }
        else ring.Enabled = true;
    }

    private void GetVringBase(VringState s)
    {
        VringSetup ring = Ring(s.Index, VhostUserRequest.GetVringBase);
        // Stops the ring (vhost-user.rst "Ring states"): the device first, then its kick; a new start sends them again.
        Deactivate($"queue {s.Index} stopped");
        StopRing(ring);
        Span<byte> reply = stackalloc byte[VringState.Length];
        new VringState(s.Index, ring.Base).Write(reply);
        _connection.Reply(VhostUserRequest.GetVringBase, reply);
    }

    private static void StopRing(VringSetup ring)
    {
        ring.Kick?.Dispose(); // the loop stopped watching it when the device was deactivated
        ring.Kick = null;
    }

    // Started as vhost-user.rst defines it (a kick fd), with what this back end needs to map it, and enabled.
    private bool IsStarted(VringSetup ring) =>
        ring.Size != 0 && ring.Address is not null && ring.Kick is not null && (ring.Enabled || (_ackedFeatures & ProtocolFeaturesBit) == 0);

    // ---- device lifecycle --------------------------------------------------------------------------------------

    private void TryActivate()
    {
        if (_activation.IsActive || _memory is null) return;
        foreach (VringSetup r in _rings)
        {
            if (!IsStarted(r)) return;
        }
        _activation.Start(_rings, _memory, _ackedFeatures & ~ProtocolFeaturesBit, NotifyConfigChanged);
    }

    /// <summary>Resets the device if it runs; once this returns nothing of it touches the rings or the memory.</summary>
    private void Deactivate(string why) => _activation.Stop(_rings, why);

    private void ResetDevice()
    {
        Deactivate("RESET_DEVICE");
        foreach (VringSetup r in _rings) r.Clear();
        _ackedFeatures = 0;
        _registers.DriverFeatures = 0;
        _memory?.Dispose();
        _memory = null;
    }

    private void SignalNeedsReset()
    {
        _logger.LogWarning("vhost-user {Name}: the device needs a reset; signalling the front end's error eventfds", _name);
        foreach (VringSetup r in _rings) r.Error.Ring();
    }

    // ---- config space ------------------------------------------------------------------------------------------

    private ConfigSpaceHeader ConfigAccess(ReadOnlySpan<byte> payload, VhostUserRequest request)
    {
        Require(VhostUserProtocolFeatures.Config, request);
        if (payload.Length < ConfigSpaceHeader.Length)
            throw new VhostUserProtocolException($"{request} with {payload.Length} payload bytes, too short for its header");
        ConfigSpaceHeader h = ConfigSpaceHeader.Read(payload);
        if (payload.Length != ConfigSpaceHeader.Length + (long)h.Size)
            throw new VhostUserProtocolException($"{request} of {h.Size} bytes in a {payload.Length}-byte payload");
        if (h.Offset > (uint)_device.ConfigLength || h.Size > (uint)_device.ConfigLength - h.Offset)
            throw new VhostUserProtocolException($"{request} of {h.Size} bytes at offset {h.Offset}: outside the {_device.ConfigLength}-byte config space");
        if (h.Flags > ConfigSpaceHeader.MigrationFlag)
            throw new VhostUserProtocolException($"{request} with flags 0x{h.Flags:x}");
        return h;
    }

    private void GetConfig(ReadOnlySpan<byte> payload)
    {
        ConfigSpaceHeader h = ConfigAccess(payload, VhostUserRequest.GetConfig);
        Span<byte> reply = stackalloc byte[ConfigSpaceHeader.Length + (int)h.Size];
        h.Write(reply);
        _registers.ReadConfig((int)h.Offset, reply[ConfigSpaceHeader.Length..]);
        if (_fds.Count != 0) throw new VhostUserProtocolException($"GET_CONFIG came with {_fds.Count} file descriptor(s) it does not take (closed)");
        _connection.Reply(VhostUserRequest.GetConfig, reply);
    }

    private void SetConfig(ReadOnlySpan<byte> payload)
    {
        ConfigSpaceHeader h = ConfigAccess(payload, VhostUserRequest.SetConfig);
        try
        {
            _registers.WriteConfig((int)h.Offset, payload.Slice(ConfigSpaceHeader.Length, (int)h.Size));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new VhostUserProtocolException($"SET_CONFIG of {h.Size} bytes at offset {h.Offset}: the device refused it ({e.Message})");
        }
    }

    // ---- back-end requests -------------------------------------------------------------------------------------

    private void SetBackendReqFd(ReadOnlySpan<byte> payload)
    {
        Expect(payload, 0, VhostUserRequest.SetBackendReqFd);
        Require(VhostUserProtocolFeatures.BackendRequests, VhostUserRequest.SetBackendReqFd);
        SafeFileHandle fd = TakeFds(1, VhostUserRequest.SetBackendReqFd)[0];
        var handle = new SafeSocketHandle(fd.DangerousGetHandle(), ownsHandle: true);
        fd.SetHandleAsInvalid(); // the socket handle owns the descriptor now
        Socket socket;
        try
        {
            socket = new Socket(handle);
        }
        catch (SocketException e)
        {
            handle.Dispose();
            throw new VhostUserProtocolException($"SET_BACKEND_REQ_FD with a descriptor that is not a socket ({e.Message})");
        }
        Interlocked.Exchange(ref _backendChannel, new BackendRequestChannel(socket))?.Dispose();
    }

    /// <summary>Tells the front end the device's config space changed; false when it gave no channel for that or it failed.</summary>
    public bool NotifyConfigChanged() =>
        Has(VhostUserProtocolFeatures.Config) && _backendChannel is BackendRequestChannel c && c.TrySend(VhostUserBackendRequest.ConfigChange);

    /// <summary>Resets the device, unmaps the session's memory and closes every descriptor of the session.</summary>
    public void Dispose()
    {
        Deactivate("the session ended");
        foreach (VringSetup r in _rings) r.Dispose();
        _memory?.Dispose();
        _memory = null;
        _backendChannel?.Dispose();
        CloseUnkept();
    }

    /// <summary>Ends the session from another thread (the back end is being disposed).</summary>
    public void Shutdown() => _connection.Shutdown();
}
