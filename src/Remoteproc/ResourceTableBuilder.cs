using System.Buffers.Binary;
using System.Text;
using AmpCan.Remoteproc.Wire;
using static AmpCan.Remoteproc.Wire.ResourceTableLayout;

namespace AmpCan.Remoteproc;

/// <summary>A vring as firmware declares it.</summary>
/// <param name="DeviceAddress">Where the ring is, or <see cref="ResourceTableLayout.AddressAny"/>.</param>
/// <param name="Align">The legacy <c>vring_init</c> alignment.</param>
/// <param name="QueueSize">Number of entries.</param>
/// <param name="NotifyId">Id the kicks for this ring carry.</param>
public readonly record struct VringSpec(uint DeviceAddress, uint Align, uint QueueSize, uint NotifyId);

/// <summary>Writes resource tables byte for byte as firmware (or the simulated remote) lays them out.</summary>
public sealed class ResourceTableBuilder
{
    private readonly List<byte[]> _entries = [];

    /// <summary>Adds a carveout entry.</summary>
    public ResourceTableBuilder Carveout(uint da, uint pa, uint length, uint flags, string name) => Add(CarveoutEntry(ResourceType.Carveout, da, pa, length, flags, name));

    /// <summary>Adds a trace entry.</summary>
    public ResourceTableBuilder Trace(uint da, uint length, string name)
    {
        byte[] e = new byte[TraceSize];
        W(e, 0, (uint)ResourceType.Trace);
        W(e, TraceDa, da);
        W(e, TraceLen, length);
        WriteName(e, TraceName, name);
        return Add(e);
    }

    /// <summary>
    /// Adds a vdev entry with its vrings and config space; when <paramref name="deviceFeatures"/> has bits above 31,
    /// the high-feature-word entry that carries them follows it (<see cref="FeaturesHigh"/>).
    /// </summary>
    public ResourceTableBuilder Vdev(uint id, uint notifyId, ulong deviceFeatures, IReadOnlyList<VringSpec> vrings, ReadOnlySpan<byte> config = default)
    {
        int index = _entries.Count;
        Vdev32(id, notifyId, (uint)deviceFeatures, vrings, config);
        return deviceFeatures > uint.MaxValue ? FeaturesHigh(index, (uint)(deviceFeatures >> 32)) : this;
    }

    /// <summary>
    /// Adds AmpCan's vendor entry holding feature bits 32 to 63 of the vdev at table index <paramref name="vdevIndex"/>
    /// (<see cref="ResourceTableLayout.FeaturesHighType"/>): <paramref name="deviceHigh"/> offered, <paramref name="driverHigh"/> accepted.
    /// </summary>
    public ResourceTableBuilder FeaturesHigh(int vdevIndex, uint deviceHigh, uint driverHigh = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vdevIndex);
        byte[] e = new byte[FeaturesHighSize];
        W(e, 0, FeaturesHighType);
        W(e, FeaturesHighLength, FeaturesHighSize);
        W(e, FeaturesHighVdevIndex, (uint)vdevIndex);
        W(e, FeaturesHighDevice, deviceHigh);
        W(e, FeaturesHighDriver, driverHigh);
        return Add(e);
    }

    private void Vdev32(uint id, uint notifyId, uint deviceFeatures, IReadOnlyList<VringSpec> vrings, ReadOnlySpan<byte> config)
    {
        if (vrings.Count > 255) throw new ArgumentException("a vdev entry holds at most 255 vrings");
        byte[] e = new byte[VdevSize + vrings.Count * VringSize + config.Length];
        W(e, 0, (uint)ResourceType.Vdev);
        W(e, VdevId, id);
        W(e, VdevNotifyId, notifyId);
        W(e, VdevDeviceFeatures, deviceFeatures);
        W(e, VdevConfigLength, (uint)config.Length);
        e[VdevNumVrings] = (byte)vrings.Count;
        for (int i = 0; i < vrings.Count; i++)
        {
            int o = VdevVrings + i * VringSize;
            W(e, o + VringDa, vrings[i].DeviceAddress);
            W(e, o + VringAlign, vrings[i].Align);
            W(e, o + VringNum, vrings[i].QueueSize);
            W(e, o + VringNotifyId, vrings[i].NotifyId);
        }
        config.CopyTo(e.AsSpan(VdevVrings + vrings.Count * VringSize));
        Add(e);
    }

    private ResourceTableBuilder Add(byte[] entry)
    {
        _entries.Add(entry);
        return this;
    }

    /// <summary>The table's bytes: header, offset array, entries in order (each 4-byte aligned).</summary>
    public byte[] Build()
    {
        int pos = HeaderSize + 4 * _entries.Count;
        var offsets = new List<int>();
        foreach (byte[] e in _entries)
        {
            offsets.Add(pos);
            pos += (e.Length + 3) & ~3;
        }
        byte[] t = new byte[pos];
        W(t, 0, TableVersion);
        W(t, 4, (uint)_entries.Count);
        for (int i = 0; i < _entries.Count; i++)
        {
            W(t, HeaderSize + 4 * i, (uint)offsets[i]);
            _entries[i].CopyTo(t, offsets[i]);
        }
        return t;
    }

    private static byte[] CarveoutEntry(ResourceType type, uint da, uint pa, uint length, uint flags, string name)
    {
        byte[] e = new byte[CarveoutSize];
        W(e, 0, (uint)type);
        W(e, CarveoutDa, da);
        W(e, CarveoutPa, pa);
        W(e, CarveoutLen, length);
        W(e, CarveoutFlags, flags);
        WriteName(e, CarveoutName, name);
        return e;
    }

    private static void W(byte[] b, int offset, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset), v);

    private static void WriteName(byte[] b, int offset, string name)
    {
        int n = Encoding.UTF8.GetBytes(name, b.AsSpan(offset, NameSize - 1));
        b[offset + n] = 0;
    }
}
