using AmpCan.SharedMem;
using AmpCan.Vring;
using AmpCan.Vring.Wire;

namespace AmpCan.Tests.Vring;

/// <summary>A memfd carveout holding one legacy ring and a buffer area, plus raw writers for playing a hostile peer.</summary>
internal sealed class RingFixture : IDisposable
{
    public const ulong Base = 0x4000_0000;
    public const ulong BufferOffset = 0x10000;
    public readonly MappedRegion Region;
    public readonly MemoryMap Memory;
    public readonly SplitRing Ring;
    public readonly int Size;

    public RingFixture(int size = 8, ulong align = 4096, ulong bytes = 0x40000)
    {
        Region = MappedRegion.CreateMemfd("ring-fixture", bytes, Base);
        Memory = new MemoryMap(Region.Io);
        Ring = SplitRing.Legacy(Region.Io.Slice(0, VringLayout.LegacySize(size, align)), size, align);
        Size = size;
    }

    public ulong Buffer(int i, ulong stride = 0x200) => Base + BufferOffset + (ulong)i * stride;

    public void Desc(int index, ulong addr, uint len, VirtqDescFlags flags = 0, ushort next = 0) =>
        Ring.Descriptors.Write((ulong)index * 16, new VirtqDescriptor(addr, len, flags, next));

    public void Offer(ushort availIdx, params ushort[] heads)
    {
        for (int i = 0; i < heads.Length; i++)
            Ring.Available.WriteU16(SplitRingOffsets.AvailEntry((availIdx - heads.Length + i) & (Size - 1)), heads[i]);
        Ring.Available.WriteU16Release(SplitRingOffsets.Index, availIdx);
    }

    public void Used(ushort usedIdx, params (uint Id, uint Len)[] elems)
    {
        for (int i = 0; i < elems.Length; i++)
            Ring.Used.Write(SplitRingOffsets.UsedEntry((usedIdx - elems.Length + i) & (Size - 1)), new VirtqUsedElement(elems[i].Id, elems[i].Len));
        Ring.Used.WriteU16Release(SplitRingOffsets.Index, usedIdx);
    }

    public SplitVirtqueueDevice Device(bool eventIdx = false, bool indirect = false) => new(Ring, Memory, eventIdx, indirect);

    public void Dispose() => Region.Dispose();
}
