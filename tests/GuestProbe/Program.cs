using System.Diagnostics;
using System.Globalization;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

// Guest side of the kernel-VM tests. Arguments: MODE BAR2_START BAR2_SIZE UIO_INDEX ROUNDS (numbers may be 0x-hex).
// Prints one line per check; "FAIL ..." and a non-zero exit code on the first failure.
// The host test wrote HostPattern at 0x100 of the shared memory before the guest booted, and checks what we write.
const ulong HostPattern = 0x1122334455667788, DevMemPattern = 0xA1B2C3D4E5F60718, UioPattern = 0x0DDC0FFEE0DDF00D;

string mode = args[0];
ulong start = Parse(args[1]), size = Parse(args[2]);
int uio = (int)Parse(args[3]), rounds = (int)Parse(args[4]);

try
{
    if (mode == "claimed")
    {
        try
        {
            using MappedRegion r = MappedRegion.MapPhysical(start, size);
            return Fail("MapPhysical succeeded although uio_ivshmem claimed the BAR");
        }
        catch (SharedMemoryException e)
        {
            Console.WriteLine($"claimed refused errno={e.Errno}: {e.Message}");
            return 0;
        }
    }

    using MappedRegion mem = MappedRegion.MapPhysical(start, size);
    if (mem.Kind != MappingKind.PhysicalWindow || mem.DeviceAddress != start || mem.Size != size) return Fail($"devmem region {mem}");
    if (mem.Io.ReadU64(0x100) != HostPattern) return Fail($"devmem read 0x{mem.Io.ReadU64(0x100):x} at 0x100, expected the host's pattern");
    mem.Io.WriteU64(0x200, DevMemPattern);
    Console.WriteLine($"devmem ok {mem}");

    using MappedRegion map = MappedRegion.MapUio(uio, 0);
    if (map.Size != size || map.DeviceAddress != start) return Fail($"uio map0 is {map}, expected 0x{start:x}+0x{size:x}");
    if (map.Io.ReadU64(0x100) != HostPattern) return Fail("uio map0 does not show the host's pattern");
    map.Io.WriteU64(0x300, UioPattern);
    mem.Io.WriteU32(0x400, 0xC0DEC0DE);
    if (map.Io.ReadU32Acquire(0x400) != 0xC0DEC0DE) return Fail("a /dev/mem write is not visible through the UIO map");
    Console.WriteLine($"uiomap ok {map}");

    using MappedRegion regs = MappedRegion.MapUio(uio, 1);
    uint ivPosition = regs.Io.ReadU32(8);
    Console.WriteLine($"ivposition {ivPosition}");
    // Doorbell register (BAR0 + 12): (peer << 16) | vector; the host is peer 0 and echoes on our vector 0.
    using var bell = new UioDoorbell($"/dev/uio{uio}", new MailboxRegister(regs.Io, 12, Value: 0));
    var rtt = new List<double>();
    for (int i = 0; i < rounds; i++)
    {
        long t0 = Stopwatch.GetTimestamp();
        bell.Ring(0);
        if (!bell.Wait(TimeSpan.FromSeconds(10))) return Fail($"no interrupt back for kick {i + 1} of {rounds}");
        rtt.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
    }
    if (bell.Acknowledge()) return Fail("a spurious extra interrupt was pending");
    rtt.Sort();
    Console.WriteLine($"irq ok {rounds} median_us {rtt[rtt.Count / 2].ToString("F0", CultureInfo.InvariantCulture)}");
    return 0;
}
catch (Exception e)
{
    return Fail($"{e.GetType().Name}: {e.Message}");
}

static int Fail(string why)
{
    Console.WriteLine($"FAIL {why}");
    return 1;
}

static ulong Parse(string s) => s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
    ? ulong.Parse(s[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
    : ulong.Parse(s, CultureInfo.InvariantCulture);
