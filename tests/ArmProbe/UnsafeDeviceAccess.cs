using System.Runtime.InteropServices;

namespace AmpCan.Tests.ArmProbe;

/// <summary>
/// What the product must never do to Device memory, done on purpose through a mapping of this program's own (its own
/// open/mmap of /dev/mem, not the product's API): an unaligned 8-byte load, a Span.Clear and a vector copy straight on
/// the BAR. Under a QEMU whose TCG enforces the Arm alignment rules for Device memory each is an alignment fault: the
/// kernel sends SIGBUS (BUS_ADRALN), which the .NET runtime turns into a DataMisalignedException at the faulting
/// instruction (uncaught, it ends the process). This program reports it as a "FAULT" line and exits 2; the host test
/// asserts that, which shows the harness catches the faults the product must avoid. "SURVIVED" means the access went through.
/// "clear-aligned" (a 4 KiB-aligned Span.Clear) is reported, not asserted: on silicon memset's DC ZVA faults on Device
/// memory, but aligned vector stores are legal there, and what the emulation does is what the run records.
/// </summary>
internal static unsafe class UnsafeDeviceAccess
{
    private const int O_RDWR = 2, O_SYNC = 0x101000, PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern nint mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    public static int Run(string bdf, string kind)
    {
        DeviceBar bar = DeviceBar.Of(bdf, 2);
        int fd = open("/dev/mem", O_RDWR | O_SYNC);
        if (fd < 0) return Report.Fail($"fault-{kind}", $"open /dev/mem: errno {Marshal.GetLastPInvokeError()}");
        nint p = mmap(0, (nuint)bar.Size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (long)bar.Start);
        if (p == -1) return Report.Fail($"fault-{kind}", $"mmap /dev/mem at 0x{bar.Start:x}: errno {Marshal.GetLastPInvokeError()}");
        byte* area = (byte*)p + ArmVmLayout.FaultArea;
        Console.WriteLine($"INFO fault-{kind}: accessing {bar} at +0x{ArmVmLayout.FaultArea:x} through a raw O_SYNC mapping");
        Console.Out.Flush();
        try
        {
            return Access(kind, area);
        }
        catch (DataMisalignedException e)
        {
            Console.WriteLine($"FAULT fault-{kind} {e.GetType().Name}: {e.Message} (SIGBUS, alignment fault, as .NET reports it)");
            return 2;
        }
    }

    private static int Access(string kind, byte* area)
    {
        switch (kind)
        {
            case "unaligned-load":
                ulong v = *(ulong*)(area + 1);   // LDR Xt at an address that is not 8-byte aligned
                Console.WriteLine($"SURVIVED fault-{kind} read 0x{v:x}");
                break;
            case "clear":
                new Span<byte>(area + 1, 4095).Clear();   // a buffer with a ragged head: memset's wide stores at odd addresses
                Console.WriteLine($"SURVIVED fault-{kind}");
                break;
            case "clear-aligned":
                new Span<byte>(area, 4096).Clear();   // memset on a page: DC ZVA or aligned STP Q
                Console.WriteLine($"SURVIVED fault-{kind}");
                break;
            case "copy":
                byte[] source = new byte[1000];
                source.AsSpan().CopyTo(new Span<byte>(area + 3, source.Length));   // vector stores at odd addresses
                Console.WriteLine($"SURVIVED fault-{kind}");
                break;
            default:
                return Report.Fail("fault", $"unknown kind {kind}");
        }
        return 0;
    }
}
