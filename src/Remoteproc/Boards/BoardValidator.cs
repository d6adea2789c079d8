using System.Globalization;
using System.Text;
using AmpCan.Remoteproc.Wire;
using static AmpCan.Remoteproc.Boards.SizeNotation;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// The range of every field of a board file, checked once at load so that nothing later meets a value it cannot use
/// (an overflow, a TimeSpan past its end, a window a resource table cannot describe). Each error names the file, the
/// field as the file spells it, and the value.
/// </summary>
internal static class BoardValidator
{
    private const int MaxNameLength = 64;

    /// <summary>Throws a <see cref="BoardException"/> for the first field out of range; fields are named after <paramref name="prefix"/> (e.g. <c>cores[1].</c>).</summary>
    public static void Validate(BoardDescriptor b, string source, string prefix)
    {
        void Fail(string field, string why) => throw new BoardException($"board file '{source}': {prefix}{field}: {why}");

        Text(b.Name, "name", MaxNameLength, Fail);
        if (b.Description.Any(char.IsControl)) Fail("description", "must be one line without control characters");

        SharedMemorySpec m = b.SharedMemory;
        if (m.Size == 0) Fail("sharedMemory.size", "must not be 0");
        if (m.DeviceAddress >= SharedMemorySpec.DeviceAddressLimit || m.Size > SharedMemorySpec.DeviceAddressLimit - m.DeviceAddress)
            Fail("sharedMemory.deviceAddress", $"the window {Range(m.DeviceAddress, m.Size)} ends above 4 GiB; a resource table's device " +
                "addresses (vring and carveout da) are 32-bit, so it cannot describe this window");
        if (m.Kind == SharedMemoryKind.File && string.IsNullOrEmpty(m.Path)) Fail("sharedMemory.path", "is required for kind 'file'");
        if (m.Size > ulong.MaxValue - m.PhysicalAddress)
            Fail("sharedMemory.physicalAddress", $"the window {Range(m.PhysicalAddress, m.Size)} wraps past the end of the physical address space");
        if (m.UioDevice < 0) Fail("sharedMemory.uioDevice", $"{m.UioDevice} must not be negative");
        if (m.UioMap is < 0 or >= SharedMemorySpec.UioMaps) Fail("sharedMemory.uioMap", $"{m.UioMap} must be 0 to {SharedMemorySpec.UioMaps - 1}");
        if (m.ParsedFileMode is null) Fail("sharedMemory.fileMode", $"'{m.FileMode}' is not an octal permission of at most 0777 (e.g. \"0600\")");
        if (m.FileOwner < 0) Fail("sharedMemory.fileOwner", $"{m.FileOwner} is not a user id");
        if (m.FileGroup < 0) Fail("sharedMemory.fileGroup", $"{m.FileGroup} is not a group id");

        ResourceTableSpec t = b.ResourceTable;
        if (t.Size < ResourceTableLayout.HeaderSize)
            Fail("resourceTable.size", $"{Bytes(t.Size)} is smaller than the table's {ResourceTableLayout.HeaderSize}-byte header");
        // A table in another region or in the image is checked against the regions (RegionValidator).
        if (t.InSharedMemory && (t.Offset > m.Size || t.Size > m.Size - t.Offset))
            Fail("resourceTable", $"{Range(t.Offset, t.Size)} is not inside the {Bytes(m.Size)} of shared memory");

        RpmsgSpec r = b.Rpmsg;
        if (r.RxBuffers is int rx) Count(rx, "rpmsg.rxBuffers", Fail);
        if (r.TxBuffers is int tx) Count(tx, "rpmsg.txBuffers", Fail);
        if (r.BufferSize is < RpmsgSpec.MinBufferSize or > RpmsgSpec.MaxBufferSize)
            Fail("rpmsg.bufferSize", $"{r.BufferSize} must be {RpmsgSpec.MinBufferSize} to {RpmsgSpec.MaxBufferSize} bytes " +
                $"(a 16-byte rpmsg header and a 40-byte name-service announcement, up to the header and 65535 payload bytes)");
        ulong pool = r.MaxPoolSize;
        if (r.BufferPoolOffset > m.Size || pool > m.Size - r.BufferPoolOffset)
            Fail("rpmsg.bufferPoolOffset", $"the pool of {r.RxBuffers?.ToString(CultureInfo.InvariantCulture) ?? "up to " + RpmsgSpec.LinuxMaxPerDirection} + " +
                $"{r.TxBuffers?.ToString(CultureInfo.InvariantCulture) ?? "up to " + RpmsgSpec.LinuxMaxPerDirection} buffers of {r.BufferSize} bytes, {Range(r.BufferPoolOffset, pool)}, " +
                $"is not inside the {Bytes(m.Size)} of shared memory");
        if (t.InSharedMemory && r.BufferPoolOffset < t.Offset + t.Size && t.Offset < r.BufferPoolOffset + pool)
            Fail("rpmsg.bufferPoolOffset", $"the buffer pool {Range(r.BufferPoolOffset, pool)} overlaps the resource table {Range(t.Offset, t.Size)}");

        DoorbellRules(b.Doorbell, "doorbell", Fail);

        RemoteSpec remote = b.Remote;
        if (remote.Kind == RemoteKind.SimulatedProcess && m.Kind is SharedMemoryKind.DevMem or SharedMemoryKind.Uio)
            Fail("remote.kind", "a simulated remote needs memfd or file shared memory");
        foreach (var (field, name) in remote.Services.Named())
        {
            Text(name, $"remote.services.{field}", maxLength: int.MaxValue, Fail);
            int nameBytes = Encoding.UTF8.GetByteCount(name);
            if (nameBytes >= RpmsgSpec.NameSize)
                Fail($"remote.services.{field}", $"'{name}' is {nameBytes} bytes; an rpmsg name holds at most {RpmsgSpec.NameSize - 1}");
        }
        if (remote.Services.Named().GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            Fail("remote.services", $"'{twice.Key}' names more than one service");
        Number(remote.StartTimeoutSeconds, "remote.startTimeoutSeconds", RemoteSpec.MinStartTimeoutSeconds, RemoteSpec.MaxStartTimeoutSeconds, Fail);

        Number(b.Notification.SpinMicroseconds, "notification.spinMicroseconds", NotificationSpec.MinSpinMicroseconds, NotificationSpec.MaxSpinMicroseconds, Fail);
        CanRules(b.Can, m, Fail);

        RegionValidator.Validate(b, Fail);
        MailboxValidator.Validate(b, Fail);
        CoreLifecycleValidator.Validate(b, Fail);
    }

    /// <summary>The fields of a doorbell (the board's, or a mailbox channel's), named under <paramref name="at"/>.</summary>
    internal static void DoorbellRules(DoorbellSpec d, string at, Action<string, string> fail)
    {
        if (d.Kind == DoorbellKind.UnixSocket && string.IsNullOrEmpty(d.Path)) fail($"{at}.path", "is required for kind 'unix-socket'");
        if (d.Kind == DoorbellKind.UnixSocket && Encoding.UTF8.GetByteCount(d.Path!) > DoorbellSpec.MaxSocketPathBytes)
            fail($"{at}.path", $"'{d.Path}' is {Encoding.UTF8.GetByteCount(d.Path!)} bytes; a UNIX socket path holds at most {DoorbellSpec.MaxSocketPathBytes}");
        if (d.UioDevice < 0) fail($"{at}.uioDevice", $"{d.UioDevice} must not be negative");
        if (d.MailboxMap is < 0 or >= SharedMemorySpec.UioMaps) fail($"{at}.mailboxMap", $"{d.MailboxMap} must be 0 to {SharedMemorySpec.UioMaps - 1}");
        if (d.MailboxOffset % 4 != 0) fail($"{at}.mailboxOffset", $"0x{d.MailboxOffset:x} is not a multiple of 4 (the register is 32-bit)");
        if (d.MailboxValue > uint.MaxValue) fail($"{at}.mailboxValue", $"0x{d.MailboxValue:x} does not fit the 32-bit register");
        if (d.MailboxNotifyIdShift is < -1 or > 31) fail($"{at}.mailboxNotifyIdShift", $"{d.MailboxNotifyIdShift} must be -1 (no notify id) or 0 to 31");
    }

    private static void CanRules(CanSpec can, SharedMemorySpec m, Action<string, string> fail)
    {
        if (can.Controllers.Count > CanSpec.MaxControllers) fail("can.controllers", $"{can.Controllers.Count} controllers; at most {CanSpec.MaxControllers}");
        for (int i = 0; i < can.Controllers.Count; i++)
        {
            CanControllerSpec c = can.Controllers[i];
            string at = $"can.controllers[{i}]";
            InterfaceName(c.Name, $"{at}.name", fail);
            if ((c.Bus is null) == (c.Interface is null)) fail(at, $"'{c.Name}' needs exactly one of \"bus\" (an in-process bus) or \"interface\" (a SocketCAN interface)");
            if (c.Bus is not null) InterfaceName(c.Bus, $"{at}.bus", fail);
            if (c.Interface is not null) InterfaceName(c.Interface, $"{at}.interface", fail);
            if (c.Log is not null) Text(c.Log, $"{at}.log", maxLength: 4096, fail);
            RemoteOwnedRules(c, at, m, fail);
        }
        if (can.Controllers.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            fail("can.controllers", $"'{twice.Key}' names more than one controller");
        if (can.Controllers.Where(c => c.Interface is not null).GroupBy(c => c.Interface).FirstOrDefault(g => g.Count() > 1) is { } shared)
            fail("can.controllers", $"interface '{shared.Key}' is given to more than one controller (put them on one in-process bus bridged to it instead)");
        for (int i = 0; i < can.Buses.Count; i++)
        {
            CanBusSpec bus = can.Buses[i];
            string at = $"can.buses[{i}]";
            InterfaceName(bus.Name, $"{at}.name", fail);
            if (!can.Controllers.Any(c => c.Bus == bus.Name)) fail($"{at}.name", $"no controller is on bus '{bus.Name}'");
            if (bus.Bitrate != 0 && bus.Bitrate is < CanBusSpec.MinBitrate or > CanBusSpec.MaxBitrate)
                fail($"{at}.bitrate", $"{bus.Bitrate} must be 0 (unpaced) or {CanBusSpec.MinBitrate} to {CanBusSpec.MaxBitrate} bit/s");
            if (bus.DataBitrate != 0 && (bus.Bitrate == 0 || bus.DataBitrate < bus.Bitrate || bus.DataBitrate > CanBusSpec.MaxDataBitrate))
                fail($"{at}.dataBitrate", $"{bus.DataBitrate} must be 0 or, with a bitrate set, from the bitrate to {CanBusSpec.MaxDataBitrate} bit/s");
            if (bus.Interface is not null) InterfaceName(bus.Interface, $"{at}.interface", fail);
        }
        if (can.Buses.GroupBy(b => b.Name).FirstOrDefault(g => g.Count() > 1) is { } busTwice)
            fail("can.buses", $"'{busTwice.Key}' is listed more than once");
    }

    // A remote-owned controller's driver buffers: given, inside the window and aligned (their size, and so their end,
    // is known once the remote's table gives the vring sizes: BoardLayout checks the whole area then). A host-owned
    // controller's driver is the remote's, which places its own buffers.
    private static void RemoteOwnedRules(CanControllerSpec c, string at, SharedMemorySpec m, Action<string, string> fail)
    {
        if (c.Owner == CanControllerOwner.Host)
        {
            if (c.BufferOffset is not null)
                fail($"{at}.bufferOffset", $"'{c.Name}' is owned by the host (AmpCan serves it; the remote's driver places its own buffers); bufferOffset is for \"owner\": \"remote\"");
            if (c.RestartMs is not null)
                fail($"{at}.restartMs", $"'{c.Name}' is owned by the host (the remote's driver decides when to restart it); restartMs is for \"owner\": \"remote\"");
            return;
        }
        if (c.BufferOffset is not ulong offset)
        {
            fail(at, $"'{c.Name}' is owned by the remote and needs \"bufferOffset\": where in the shared memory AmpCan's driver puts its buffers");
            return;
        }
        if (offset >= m.Size)
            fail($"{at}.bufferOffset", $"0x{offset:x} is not inside the {Bytes(m.Size)} of shared memory");
        if ((m.DeviceAddress + offset) % BufferAlignment != 0)
            fail($"{at}.bufferOffset", $"0x{offset:x} puts the buffers at device address 0x{m.DeviceAddress + offset:x}, not a multiple of {BufferAlignment} (descriptor tables are {BufferAlignment}-byte aligned)");
        if (c.RestartMs is int ms && ms is < 0 or > CanControllerSpec.MaxRestartMs)
            fail($"{at}.restartMs", $"{ms} must be 0 (stay stopped after bus-off) to {CanControllerSpec.MaxRestartMs} ms");
    }

    // A virtio descriptor table's alignment (virtio 1.x §2.7): the driver's indirect tables are among its buffers.
    private const ulong BufferAlignment = 16;

    // A Linux interface name: 1 to 15 bytes (IFNAMSIZ 16 with its NUL), no '/', no white space, not "." or "..".
    private static void InterfaceName(string value, string field, Action<string, string> fail)
    {
        Text(value, field, maxLength: 15, fail);
        if (Encoding.UTF8.GetByteCount(value) > 15 || value.Any(ch => ch == '/' || ch == ':' || char.IsWhiteSpace(ch)) || value is "." or "..")
            fail(field, $"'{value}' is not an interface name (1 to 15 bytes, no '/', ':' or spaces)");
    }

    /// <summary>A non-empty one-line text of at most <paramref name="maxLength"/> characters.</summary>
    internal static void Text(string value, string field, int maxLength, Action<string, string> fail)
    {
        if (string.IsNullOrWhiteSpace(value)) fail(field, "must not be empty");
        if (value.Length > maxLength) fail(field, $"is {value.Length} characters; at most {maxLength}");
        if (value.Any(char.IsControl)) fail(field, "must not contain control characters");
    }

    private static void Count(int value, string field, Action<string, string> fail)
    {
        if (value is < 1 or > RpmsgSpec.MaxBuffers)
            fail(field, $"{value} must be 1 to {RpmsgSpec.MaxBuffers} (a split ring's largest size)");
    }

    private static void Number(double value, string field, double min, double max, Action<string, string> fail)
    {
        // System.Text.Json refuses NaN and Infinity as literals but reads 1e400 as Infinity.
        if (!double.IsFinite(value) || value < min || value > max)
            fail(field, $"{value.ToString("R", CultureInfo.InvariantCulture)} must be {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
    }
}
