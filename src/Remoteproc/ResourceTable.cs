using System.Text;
using AmpCan.Remoteproc.Wire;
using AmpCan.SharedMem;
using AmpCan.Vring;
using static AmpCan.Remoteproc.Wire.ResourceTableLayout;

namespace AmpCan.Remoteproc;

/// <summary>A carveout or devmem entry.</summary>
public sealed record CarveoutResource(int Index, ResourceType Type, uint DeviceAddress, uint PhysicalAddress, uint Length, uint Flags, string Name);

/// <summary>A trace-buffer entry.</summary>
public sealed record TraceResource(int Index, uint DeviceAddress, uint Length, string Name);

/// <summary>
/// An entry the parser stepped over, as Linux's <c>rproc_handle_resources</c> does: a type at or past RSC_LAST, or a
/// vendor type no platform hook handled. The caller logs <see cref="Description"/> once.
/// </summary>
/// <param name="Index">Position in the table's offset array.</param>
/// <param name="Type">The entry's type word.</param>
/// <param name="Offset">Offset of the entry in the table.</param>
public sealed record SkippedResource(int Index, uint Type, ulong Offset)
{
    /// <summary>True for RSC_VENDOR_START to RSC_VENDOR_END (both included), which a platform may define.</summary>
    public bool IsVendor => Type is >= VendorStart and <= VendorEnd;

    /// <summary>One log line in Linux's words, e.g. <c>resource entry 2 at 0x2c: unsupported vendor resource type 512, skipped</c>.</summary>
    public string Description => $"resource entry {Index} at 0x{Offset:x}: unsupported {(IsVendor ? "vendor " : "")}resource type {Type}, skipped";
}

/// <summary>
/// A resource table living in shared memory, parsed and validated once; vdev entries stay live views (status,
/// features, vring addresses), because host and remote both read and write them after load.
/// </summary>
public sealed class ResourceTable
{
    private readonly ulong[] _offsets;

    private ResourceTable(IoRegion table, IReadOnlyList<CarveoutResource> carveouts, IReadOnlyList<TraceResource> traces, IReadOnlyList<VdevResource> vdevs,
        IReadOnlyList<SkippedResource> skipped, ulong[] offsets)
    {
        _offsets = offsets;
        Window = table;
        Carveouts = carveouts;
        Traces = traces;
        Vdevs = vdevs;
        Skipped = skipped;
    }

    /// <summary>The bytes of the table.</summary>
    public IoRegion Window { get; }

    /// <summary>Carveout and devmem entries in table order.</summary>
    public IReadOnlyList<CarveoutResource> Carveouts { get; }

    /// <summary>Trace entries in table order.</summary>
    public IReadOnlyList<TraceResource> Traces { get; }

    /// <summary>Virtio devices in table order.</summary>
    public IReadOnlyList<VdevResource> Vdevs { get; }

    /// <summary>Entries of a type this host does not handle, in table order; Linux warns once for each and goes on.</summary>
    public IReadOnlyList<SkippedResource> Skipped { get; }

    /// <summary>
    /// Offset of entry <paramref name="index"/> as it was when the table was parsed: write-backs go there, not to
    /// wherever the live offset array (which the remote can rewrite) points now.
    /// </summary>
    internal ulong EntryOffset(int index) => _offsets[index];

    /// <summary>Parses the table in <paramref name="table"/> (the window bounds every offset and length in it).</summary>
    /// <remarks>
    /// As Linux's <c>rproc_handle_resources</c>: an entry whose 4-byte type does not fit is an error; an unknown or
    /// vendor type is skipped and listed in <see cref="Skipped"/>; a known entry must fit and have zero reserved words.
    /// </remarks>
    /// <exception cref="ResourceTableException">Any field is out of range; the message says which.</exception>
    public static ResourceTable Parse(IoRegion table)
    {
        if (table.Length < HeaderSize) throw new ResourceTableException($"resource table of 0x{table.Length:x} bytes is shorter than its {HeaderSize}-byte header");
        uint ver = table.ReadU32(0);
        if (ver != TableVersion) throw new ResourceTableException($"resource table version {ver} is not supported (expected {TableVersion})");
        // As Linux's find_table (drivers/remoteproc/remoteproc_elf_loader.c, torvalds/linux at 03ab8e62: "non zero
        // reserved bytes") and OpenAMP's handle_rsc_table (lib/remoteproc/rsc_table_parser.c, v2026.04.0:
        // RPROC_ERR_RSC_TAB_RSVD): the header's two reserved words must be zero; a table that uses them is of a kind
        // neither knows, so it is refused before anything in it is believed.
        uint reserved0 = table.ReadU32(HeaderReserved0), reserved1 = table.ReadU32(HeaderReserved1);
        if (reserved0 != 0 || reserved1 != 0)
            throw new ResourceTableException(
                $"resource table header: reserved[0] (+0x{HeaderReserved0:x}) is 0x{reserved0:x} and reserved[1] (+0x{HeaderReserved1:x}) is 0x{reserved1:x}; both must be 0 (Linux and OpenAMP refuse the table too)");
        uint num = table.ReadU32(4);
        if (num > (table.Length - HeaderSize) / 4 || num > int.MaxValue)
            throw new ResourceTableException($"resource table claims {num} entries; its offset array does not fit in 0x{table.Length:x} bytes");
        ulong entriesStart = HeaderSize + 4UL * num;
        var carveouts = new List<CarveoutResource>();
        var traces = new List<TraceResource>();
        var vdevs = new List<VdevResource>();
        var skipped = new List<SkippedResource>();
        var featuresHigh = new List<(int Index, ulong Offset, uint VdevIndex)>();
        ulong[] offsets = new ulong[num];
        for (int i = 0; i < (int)num; i++)
        {
            uint off = table.ReadU32(HeaderSize + 4 * (ulong)i);
            offsets[i] = off;
            if (off < entriesStart || off > table.Length - 4)
                throw new ResourceTableException($"resource entry {i}: offset 0x{off:x} is outside the table (0x{table.Length:x} bytes) or inside its header");
            uint type = table.ReadU32(off);
            switch (type)
            {
                case (uint)ResourceType.Carveout or (uint)ResourceType.DevMem:
                    string what = type == (uint)ResourceType.Carveout ? "carveout" : "devmem";
                    Need(table, i, off, CarveoutSize, what);
                    Reserved(table, i, off, off + CarveoutReserved, what);
                    carveouts.Add(new CarveoutResource(i, (ResourceType)type, table.ReadU32(off + CarveoutDa), table.ReadU32(off + CarveoutPa),
                        table.ReadU32(off + CarveoutLen), table.ReadU32(off + CarveoutFlags), Name(table, off + CarveoutName)));
                    break;
                case (uint)ResourceType.Trace:
                    Need(table, i, off, TraceSize, "trace");
                    Reserved(table, i, off, off + TraceReserved, "trace");
                    traces.Add(new TraceResource(i, table.ReadU32(off + TraceDa), table.ReadU32(off + TraceLen), Name(table, off + TraceName)));
                    break;
                case (uint)ResourceType.Vdev:
                    vdevs.Add(VdevResource.Parse(table, i, off));
                    break;
                case FeaturesHighType:
                    featuresHigh.Add((i, off, FeaturesHighEntry(table, i, off)));
                    break;
                default:
                    skipped.Add(new SkippedResource(i, type, off));
                    break;
            }
        }
        foreach (var (index, off, vdevIndex) in featuresHigh)
        {
            VdevResource? vdev = vdevs.Find(v => v.Index == vdevIndex);
            if (vdev is null)
                throw new ResourceTableException($"resource entry {index} (vdev feature bits 32-63) at 0x{off:x}: names entry {vdevIndex}, which is not a vdev");
            if (vdev.FeaturesHighIndex is int other)
                throw new ResourceTableException($"resource entry {index} (vdev feature bits 32-63) at 0x{off:x}: vdev entry {vdevIndex} already has its high feature word in entry {other}");
            vdev.AttachFeaturesHigh(table.Slice(off, FeaturesHighSize), index);
        }
        return new ResourceTable(table, carveouts, traces, vdevs, skipped, offsets);
    }

    // AmpCan's own vendor entry: checked like a standard one (it fits, len says its size, the reserved word is zero),
    // since a malformed one would otherwise change what features a vdev offers.
    private static uint FeaturesHighEntry(IoRegion table, int index, ulong off)
    {
        const string what = "vdev feature bits 32-63";
        Need(table, index, off, FeaturesHighSize, what);
        uint len = table.ReadU32(off + FeaturesHighLength);
        if (len != FeaturesHighSize)
            throw new ResourceTableException($"resource entry {index} ({what}) at 0x{off:x}: len is {len}, not {FeaturesHighSize}");
        Reserved(table, index, off, off + FeaturesHighReserved, what);
        return table.ReadU32(off + FeaturesHighVdevIndex);
    }

    internal static void Need(IoRegion table, int index, ulong off, ulong size, string what)
    {
        if (!table.Contains(off, size))
            throw new ResourceTableException($"resource entry {index} ({what}) at 0x{off:x} needs 0x{size:x} bytes; the table ends at 0x{table.Length:x}");
    }

    private static void Reserved(IoRegion table, int index, ulong off, ulong reservedAt, string what)
    {
        uint v = table.ReadU32(reservedAt);
        if (v != 0)
            throw new ResourceTableException($"resource entry {index} ({what}) at 0x{off:x}: reserved word at +0x{reservedAt - off:x} is 0x{v:x}, not 0 (Linux refuses it too)");
    }

    internal static string Name(IoRegion table, ulong off)
    {
        Span<byte> raw = stackalloc byte[NameSize];
        table.Read(off, raw);
        int n = raw.IndexOf((byte)0);
        return Encoding.UTF8.GetString(raw[..(n < 0 ? NameSize : n)]);
    }
}

/// <summary>One vring of a vdev entry, as the table gives it (da may be <see cref="ResourceTableLayout.AddressAny"/>).</summary>
public sealed record VringResource(int Index, uint DeviceAddress, uint Align, uint QueueSize, uint NotifyId);

/// <summary>
/// A vdev entry, live in shared memory: the host writes status and accepted features into it and the remote reads
/// them (remoteproc_virtio.c / OpenAMP remoteproc_virtio.c). Implements <see cref="IVirtioConfig"/>.
/// </summary>
public sealed class VdevResource : IVirtioConfig
{
    private readonly IoRegion _entry;
    private IoRegion? _featuresHigh; // AmpCan's vendor entry with feature bits 32-63, when the table has one for this vdev

    private VdevResource(IoRegion entry, int index, ulong offset, int vrings, int configLength)
    {
        _entry = entry;
        Index = index;
        Offset = offset;
        QueueCount = vrings;
        ConfigLength = configLength;
    }

    internal static VdevResource Parse(IoRegion table, int index, ulong off)
    {
        ResourceTable.Need(table, index, off, VdevSize, "vdev");
        int vrings = table.ReadU8(off + VdevNumVrings);
        uint configLen = table.ReadU32(off + VdevConfigLength);
        ulong size = VdevSize + (ulong)vrings * VringSize + configLen;
        ResourceTable.Need(table, index, off, size, $"vdev with {vrings} vrings and {configLen} config bytes");
        if (configLen > int.MaxValue)
            throw new ResourceTableException($"vdev {index} at 0x{off:x}: config space of {configLen} bytes is larger than this host handles");
        if (table.ReadU16(off + VdevReserved) != 0)
            throw new ResourceTableException($"vdev {index} at 0x{off:x}: reserved bytes at +0x{VdevReserved:x} are 0x{table.ReadU16(off + VdevReserved):x4}, not 0 (Linux refuses them too)");
        // Linux takes at most two vrings per vdev (struct rproc_vdev's array); more are read here for devices such as virtio-can.
        var v = new VdevResource(table.Slice(off, size), index, off, vrings, (int)configLen);
        for (int q = 0; q < vrings; q++)
        {
            VringResource r = v.Vring(q);
            if (r.QueueSize == 0 || r.Align == 0)
                throw new ResourceTableException($"vdev {index} (id {v.DeviceId}) vring {q}: invalid queue size {r.QueueSize} or alignment {r.Align}");
            if (r.QueueSize > VringLayout.MaxQueueSize || (r.QueueSize & (r.QueueSize - 1)) != 0)
                throw new ResourceTableException($"vdev {index} (id {v.DeviceId}) vring {q}: queue size {r.QueueSize} is not a power of two up to {VringLayout.MaxQueueSize}");
            if (r.Align < 4 || (r.Align & (r.Align - 1)) != 0)
                throw new ResourceTableException($"vdev {index} (id {v.DeviceId}) vring {q}: alignment {r.Align} is not a power of two of at least 4");
            if (r.DeviceAddress != ResourceTableLayout.AddressAny && r.DeviceAddress % r.Align != 0)
                throw new ResourceTableException($"vdev {index} (id {v.DeviceId}) vring {q}: device address 0x{r.DeviceAddress:x} is not aligned to its alignment 0x{r.Align:x}");
        }
        return v;
    }

    /// <summary>Position of the entry in the table.</summary>
    public int Index { get; }

    /// <summary>Offset of the entry in the table.</summary>
    public ulong Offset { get; }

    /// <inheritdoc/>
    public uint DeviceId => _entry.ReadU32(VdevId);

    /// <summary>Notify id of the vdev itself (config changes).</summary>
    public uint NotifyId => _entry.ReadU32(VdevNotifyId);

    /// <summary>Table index of the entry holding this vdev's feature bits 32 to 63, or null when the table has none for it.</summary>
    public int? FeaturesHighIndex { get; private set; }

    internal void AttachFeaturesHigh(IoRegion entry, int index)
    {
        _featuresHigh = entry;
        FeaturesHighIndex = index;
    }

    /// <inheritdoc/>
    /// <remarks>dfeatures, with bits 32 to 63 from the table's high-feature-word entry when it has one for this vdev.</remarks>
    public ulong DeviceFeatures => _entry.ReadU32(VdevDeviceFeatures) | (_featuresHigh is { } hi ? (ulong)hi.ReadU32(FeaturesHighDevice) << 32 : 0);

    /// <inheritdoc/>
    /// <remarks>
    /// gfeatures, with bits 32 to 63 in the high-feature-word entry. A vdev without that entry has nowhere to keep
    /// bits 32 to 63: they are dropped and read back as 0. It offers none of them either (its dfeatures are 32 bits),
    /// so a driver that accepts only what is offered loses nothing, and what reads back is what the remote will see.
    /// </remarks>
    public ulong DriverFeatures
    {
        get => _entry.ReadU32(VdevDriverFeatures) | (_featuresHigh is { } hi ? (ulong)hi.ReadU32(FeaturesHighDriver) << 32 : 0);
        set
        {
            _featuresHigh?.WriteU32(FeaturesHighDriver, (uint)(value >> 32));
            _entry.WriteU32(VdevDriverFeatures, (uint)value);
        }
    }

    /// <inheritdoc/>
    public VirtioStatus Status
    {
        get => (VirtioStatus)_entry.ReadU8Acquire(VdevStatus);
        set
        {
            _entry.Fence();
            _entry.WriteU8Release(VdevStatus, (byte)value);
        }
    }

    /// <inheritdoc/>
    public int QueueCount { get; }

    /// <inheritdoc/>
    public int ConfigLength { get; }

    /// <summary>The table's description of vring <paramref name="queue"/>.</summary>
    public VringResource Vring(int queue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queue);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queue, QueueCount);
        ulong o = VdevVrings + (ulong)queue * VringSize;
        return new VringResource(queue, _entry.ReadU32(o + VringDa), _entry.ReadU32(o + VringAlign), _entry.ReadU32(o + VringNum), _entry.ReadU32(o + VringNotifyId));
    }

    /// <summary>Writes back where the host placed vring <paramref name="queue"/> (when the table said "any").</summary>
    public void SetVringAddress(int queue, uint deviceAddress)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queue, QueueCount);
        _entry.WriteU32(VdevVrings + (ulong)queue * VringSize + VringDa, deviceAddress);
    }

    /// <inheritdoc/>
    public void ReadConfig(int offset, Span<byte> destination)
    {
        CheckConfig(offset, destination.Length);
        _entry.Read(ConfigStart + (ulong)offset, destination);
    }

    /// <inheritdoc/>
    public void WriteConfig(int offset, ReadOnlySpan<byte> source)
    {
        CheckConfig(offset, source.Length);
        _entry.Write(ConfigStart + (ulong)offset, source);
    }

    private ulong ConfigStart => VdevVrings + (ulong)QueueCount * VringSize;

    private void CheckConfig(int offset, int length)
    {
        if (offset < 0 || length < 0 || offset > ConfigLength - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"config access of {length} bytes at {offset} exceeds the {ConfigLength}-byte config space of vdev {Index}");
    }
}
