using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Wire;
using AmpCan.SharedMem;
using CsCheck;

namespace AmpCan.Tests.Remoteproc.ResourceTables;

/// <summary>
/// Random tables (fixed and ANY carveouts and vrings, addresses in, across and outside the windows, at the top of the
/// 32-bit space, lengths that overflow, clashing notify ids) against three windows: whatever the allocator accepts
/// lies in a window meant for it and overlaps nothing it must not; whatever it refuses leaves the table as it was;
/// and no byte of any window outside the table ever changes.
/// </summary>
public sealed class ResourceTableAllocatorPropertyTests : IDisposable
{
    private const uint Any = ResourceTableLayout.AddressAny;
    private const byte Pattern = 0x5A;
    private const int Iterations = 1000;

    // "vrings" holds the table at its start; "top" ends exactly at 4 GiB.
    private readonly MappedRegion _vrings = MappedRegion.CreateMemfd("vrings", 0x20000, 0x1000_0000);
    private readonly MappedRegion _carveouts = MappedRegion.CreateMemfd("carveouts", 0x20000, 0x2000_0000);
    private readonly MappedRegion _top = MappedRegion.CreateMemfd("top", 0x10000, 0xFFFF_0000);

    public void Dispose()
    {
        _vrings.Dispose();
        _carveouts.Dispose();
        _top.Dispose();
    }

    private static readonly uint[] Bases = [0x1000_0000, 0x2000_0000, 0xFFFF_0000, 0, 0x3000_0000];
    private static readonly uint[] Lengths = [0, 1, 0x1000, 0x3000, 0x1_0000, 0x2_0000, 0x8000_0000, 0xFFFF_FFFF];

    private sealed record Entry(bool IsVdev, bool Fixed, int Base, uint Offset, int LengthKind, uint RandomLength, VringSpec[] Rings, uint NotifyId);

    private static readonly Gen<VringSpec> Ring =
        Gen.Select(Gen.Int[0, 15], Gen.Int[2, 12], Gen.Bool, Gen.Int[0, Bases.Length - 1], Gen.UInt[0, 0x2_0000], Gen.Frequency((2, Gen.Const(Any)), (1, Gen.UInt[0, 6])),
            (logNum, logAlign, isFixed, b, off, notify) =>
            {
                uint align = 1u << logAlign;
                return new VringSpec(isFixed ? unchecked(Bases[b] + (off & ~(align - 1))) : Any, align, 1u << logNum, notify);
            });

    private static readonly Gen<Entry> Entries =
        Gen.Select(Gen.Int[0, 2], Gen.Bool, Gen.Int[0, Bases.Length - 1], Gen.UInt[0, 0x2_0000], Gen.Int[0, Lengths.Length], Gen.UInt[1, 0x1_0000],
            Ring.Array[0, 5], Gen.Frequency((2, Gen.Const(Any)), (1, Gen.UInt[0, 6])),
            (kind, isFixed, b, off, lk, len, rings, notify) => new Entry(kind == 0, isFixed, b, off, lk, len, rings, notify));

    private static byte[] Build(Entry[] entries)
    {
        var b = new ResourceTableBuilder();
        foreach (Entry e in entries)
        {
            if (e.IsVdev) b.Vdev(7, e.NotifyId, 1, e.Rings);
            else
            {
                uint len = e.LengthKind < Lengths.Length ? Lengths[e.LengthKind] : e.RandomLength;
                b.Carveout(e.Fixed ? unchecked(Bases[e.Base] + e.Offset) : Any, 0, len, 0, "c");
            }
        }
        return b.Build();
    }

    private static void Fill(IoRegion r)
    {
        byte[] p = new byte[r.Length];
        Array.Fill(p, Pattern);
        r.Write(0, p);
    }

    private static byte[] Bytes(IoRegion r)
    {
        byte[] b = new byte[r.Length];
        r.Read(0, b);
        return b;
    }

    [Test]
    public void RandomTablesArePlacedInsideTheirWindowsWithoutOverlapOrRefusedUntouched()
    {
        int placedTables = 0, refused = 0;
        Entries.Array[0, 6].Sample(entries =>
        {
            byte[] bytes = Build(entries);
            if ((ulong)bytes.Length > _vrings.Io.Length) return;
            Fill(_vrings.Io);
            Fill(_carveouts.Io);
            Fill(_top.Io);
            _vrings.Io.Write(0, bytes);
            ResourceTable table;
            try { table = ResourceTable.Parse(_vrings.Io.Slice(0, (ulong)bytes.Length)); }
            catch (ResourceTableException) { return; } // the parser's business (e.g. a fixed vring off its alignment)
            var allocator = new ResourceTableAllocator([
                new AllocationWindow(_vrings.Io, WindowUse.Vrings | WindowUse.Buffers),
                new AllocationWindow(_carveouts.Io, WindowUse.Carveouts, PhysicalAddress: 0x8000_0000),
                new AllocationWindow(_top.Io, WindowUse.Vrings | WindowUse.Carveouts),
            ]);
            ResourceTableAllocation done;
            try { done = allocator.Apply(table); }
            catch (ResourceTableException)
            {
                refused++;
                byte[] now = Bytes(_vrings.Io);
                if (!now.AsSpan(0, bytes.Length).SequenceEqual(bytes)) throw new InvalidOperationException("a refused table was changed");
                if (now.Skip(bytes.Length).Any(b => b != Pattern) || Bytes(_carveouts.Io).Any(b => b != Pattern) || Bytes(_top.Io).Any(b => b != Pattern))
                    throw new InvalidOperationException("a refused table wrote into a window");
                return;
            }
            placedTables++;
            if (Bytes(_vrings.Io).Skip(bytes.Length).Any(b => b != Pattern) || Bytes(_carveouts.Io).Any(b => b != Pattern) || Bytes(_top.Io).Any(b => b != Pattern))
                throw new InvalidOperationException("the allocator wrote into a window outside the table");

            var memory = done.Memory.Where(m => m.Kind != PlacementKind.DevMemNotMapped).ToArray();
            foreach (ResourcePlacement m in memory)
            {
                WindowUse need = m.Kind is PlacementKind.VringAllocated or PlacementKind.VringFixed ? WindowUse.Vrings : WindowUse.Carveouts;
                if ((m.Window!.Uses & need) == 0 || m.DeviceAddress < m.Window.Start || m.DeviceAddress + m.Length > m.Window.End || m.DeviceAddress + m.Length > 1UL << 32)
                    throw new InvalidOperationException($"{m.Description} is not inside a window for {need}");
                if (m.Kind is not PlacementKind.CarveoutFixed && m.DeviceAddress < table.Window.DeviceAddress + table.Window.Length && table.Window.DeviceAddress < m.DeviceAddress + m.Length)
                    throw new InvalidOperationException($"{m.Description} overlaps the table");
            }
            for (int i = 0; i < memory.Length; i++)
                for (int j = i + 1; j < memory.Length; j++)
                {
                    ResourcePlacement a = memory[i], c = memory[j];
                    bool mayShare = (a.Kind, c.Kind) is (PlacementKind.CarveoutFixed, PlacementKind.VringFixed) or (PlacementKind.VringFixed, PlacementKind.CarveoutFixed);
                    if (!mayShare && a.DeviceAddress < c.DeviceAddress + c.Length && c.DeviceAddress < a.DeviceAddress + a.Length)
                        throw new InvalidOperationException($"{a.Description} overlaps {c.Description}");
                }

            // What the table now says is what was reported, and every notify id is different.
            ResourceTable again = ResourceTable.Parse(_vrings.Io.Slice(0, (ulong)bytes.Length));
            foreach (ResourcePlacement m in memory)
            {
                ulong da = m.Vring is int q ? again.Vdevs.Single(v => v.Index == m.EntryIndex).Vring(q).DeviceAddress
                    : again.Carveouts.Single(c => c.Index == m.EntryIndex).DeviceAddress;
                if (da != m.DeviceAddress) throw new InvalidOperationException($"{m.Description}, but the table says 0x{da:x}");
            }
            uint[] ids = [.. again.Vdevs.SelectMany(v => Enumerable.Range(0, v.QueueCount).Select(q => v.Vring(q).NotifyId).Append(v.NotifyId))];
            if (ids.Distinct().Count() != ids.Length || ids.Contains(Any)) throw new InvalidOperationException($"notify ids {string.Join(",", ids)}");
        }, iter: Iterations, threads: 1);
        Assert.That(placedTables, Is.GreaterThan(Iterations / 10), "the generator must produce tables that fit, not only hostile ones");
        Assert.That(refused, Is.GreaterThan(Iterations / 10), "and hostile ones");
    }
}
