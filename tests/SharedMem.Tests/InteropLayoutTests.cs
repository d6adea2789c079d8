using System.Reflection;
using System.Runtime.InteropServices;
using AmpCan.SharedMem;
using Tmds.Linux;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// The C structs and argument types the interop layer passes, against the sizes and offsets the C headers give for
/// LP64 (x86-64, arm64) and ILP32 (armhf with 64-bit off_t), written out by hand. The LP64 side is checked against the
/// structs as this process lays them out; the ILP32 side against the same field list laid out with 4-byte pointers,
/// after that field list has been shown to reproduce the LP64 layout this process really uses.
/// </summary>
public class InteropLayoutTests
{
    public enum C { Pointer, Int16, Int32, Int64 }

    public sealed record Expected(int Size, params (string Field, int Offset)[] Offsets);

    public sealed record CStruct(string Name, Type? Managed, (string Field, C Type)[] Fields, Expected Lp64, Expected Ilp32);

    // C long, size_t and pointers are all C.Pointer: pointer-sized on every Linux ABI AmpCan runs on.
    private static readonly CStruct[] Structs =
    [
        new("iovec", typeof(iovec), [("iov_base", C.Pointer), ("iov_len", C.Pointer)],
            new(16, ("iov_base", 0), ("iov_len", 8)), new(8, ("iov_base", 0), ("iov_len", 4))),
        new("msghdr", typeof(msghdr),
            [("msg_name", C.Pointer), ("msg_namelen", C.Int32), ("msg_iov", C.Pointer), ("msg_iovlen", C.Pointer),
             ("msg_control", C.Pointer), ("msg_controllen", C.Pointer), ("msg_flags", C.Int32)],
            new(56, ("msg_name", 0), ("msg_namelen", 8), ("msg_iov", 16), ("msg_iovlen", 24), ("msg_control", 32), ("msg_controllen", 40), ("msg_flags", 48)),
            new(28, ("msg_name", 0), ("msg_namelen", 4), ("msg_iov", 8), ("msg_iovlen", 12), ("msg_control", 16), ("msg_controllen", 20), ("msg_flags", 24))),
        new("cmsghdr", typeof(cmsghdr), [("cmsg_len", C.Pointer), ("cmsg_level", C.Int32), ("cmsg_type", C.Int32)],
            new(16, ("cmsg_len", 0), ("cmsg_level", 8), ("cmsg_type", 12)), new(12, ("cmsg_len", 0), ("cmsg_level", 4), ("cmsg_type", 8))),
        // Posix.FilePageSize reads only these two leading fields of struct statfs64 (both __fsword_t, a C long) from a raw buffer.
        new("statfs64 (head)", null, [("f_type", C.Pointer), ("f_bsize", C.Pointer), ("f_blocks", C.Int64)],
            new(24, ("f_type", 0), ("f_bsize", 8), ("f_blocks", 16)), new(16, ("f_type", 0), ("f_bsize", 4), ("f_blocks", 8))),
        // The ARM EABI aligns a 64-bit integer to 8, so epoll_data sits at 8 there as on arm64; only x86-64 packs it (at 4).
        new("epoll_event (Arm)", null, [("events", C.Int32), ("data", C.Int64)],
            new(16, ("events", 0), ("data", 8)), new(16, ("events", 0), ("data", 8))),
    ];

    private static IEnumerable<TestCaseData> Cases() => Structs.Select(s => new TestCaseData(s).SetArgDisplayNames(s.Name));

    // The structs passed as managed values; the others are read from raw buffers at the offsets above.
    private static IEnumerable<TestCaseData> ManagedCases() => Cases().Where(c => ((CStruct)c.Arguments[0]!).Managed is not null);

    private static (int Size, Dictionary<string, int> Offsets) Layout((string Field, C Type)[] fields, int pointerSize)
    {
        var offsets = new Dictionary<string, int>();
        int offset = 0, structAlign = 1;
        foreach ((string field, C type) in fields)
        {
            int size = type switch { C.Pointer => pointerSize, C.Int16 => 2, C.Int32 => 4, _ => 8 };
            offset = (offset + size - 1) / size * size;
            offsets[field] = offset;
            offset += size;
            structAlign = Math.Max(structAlign, size);
        }
        return ((offset + structAlign - 1) / structAlign * structAlign, offsets);
    }

    [TestCaseSource(nameof(Cases))]
    public void TheFieldListGivesTheHeadersLp64Layout(CStruct s)
    {
        (int size, Dictionary<string, int> offsets) = Layout(s.Fields, 8);
        Assert.That(size, Is.EqualTo(s.Lp64.Size), $"{s.Name}: LP64 size");
        foreach ((string field, int offset) in s.Lp64.Offsets) Assert.That(offsets[field], Is.EqualTo(offset), $"{s.Name}.{field} on LP64");
    }

    [TestCaseSource(nameof(Cases))]
    public void TheFieldListWithFourBytePointersGivesTheHeadersIlp32Layout(CStruct s)
    {
        (int size, Dictionary<string, int> offsets) = Layout(s.Fields, 4);
        Assert.That(size, Is.EqualTo(s.Ilp32.Size), $"{s.Name}: ILP32 size");
        foreach ((string field, int offset) in s.Ilp32.Offsets) Assert.That(offsets[field], Is.EqualTo(offset), $"{s.Name}.{field} on ILP32");
    }

    [TestCaseSource(nameof(ManagedCases))]
    public void TheStructThisProcessPassesHasTheLayoutOfItsPointerSize(CStruct s)
    {
        Expected expected = IntPtr.Size == 8 ? s.Lp64 : s.Ilp32;
        Assert.That(Marshal.SizeOf(s.Managed!), Is.EqualTo(expected.Size), $"{s.Name}: size in this {IntPtr.Size * 8}-bit process");
        // Tmds.LibC keeps some fields private under other names: those are checked by size only (Marshal.OffsetOf needs a public name).
        foreach ((string field, int offset) in expected.Offsets)
            if (s.Managed!.GetField(field) is not null)
                Assert.That((int)Marshal.OffsetOf(s.Managed, field), Is.EqualTo(offset), $"{s.Name}.{field} in this process");
    }

    [Test]
    public void StatHasTheHeadersLayoutForThisArchitecture()
    {
        // struct stat: x86-64 144 bytes, arm64 128; the armhf build of Tmds.LibC binds __fxstat64 (struct stat64, 104 bytes,
        // st_size at 48, the full st_ino at 96), a different assembly this process cannot load.
        (int size, int mode, int sizeAt) = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => (144, 24, 48),
            Architecture.Arm64 => (128, 16, 48),
            var a => throw new IgnoreException($"no hand-written struct stat for {a}"),
        };
        Assert.That(Marshal.SizeOf<stat>(), Is.EqualTo(size));
        Assert.That((int)Marshal.OffsetOf<stat>(nameof(stat.st_mode)), Is.EqualTo(mode));
        Assert.That((int)Marshal.OffsetOf<stat>(nameof(stat.st_size)), Is.EqualTo(sizeAt));
        Assert.That(Marshal.SizeOf<off_t>(), Is.EqualTo(8), "off_t is 64 bits on LP64 and in Tmds.LibC's armhf build (open64, mmap64)");
    }

    [Test]
    public void ArgumentsThatAreCLongArePointerSized()
    {
        // mount(2)'s mountflags is unsigned long: a 64-bit argument there would shift the data pointer on 32-bit Arm.
        MethodInfo mount = typeof(FuseDevice).GetMethod("MountCall", BindingFlags.NonPublic | BindingFlags.Static)!;
        Assert.That(mount.GetParameters()[3].ParameterType, Is.EqualTo(typeof(nuint)), "mount's flags");
        Assert.That(mount.GetParameters()[3].Name, Is.EqualTo("flags"));
    }

    [Test]
    public void CopiesToDeviceMemoryInA32BitProcessNeverUse64BitAccesses()
    {
        // On ARMv7 a volatile 64-bit access is made atomic with exclusives (LDREXD/STREXD), which device memory need not support.
        for (ulong address = 0; address < 64; address++)
            for (ulong left = 1; left <= 16; left++)
            {
                Assert.That(DeviceMemoryCopy.Width(address, left, pointerSize: 4), Is.LessThanOrEqualTo(4), $"address {address}, {left} left");
                int width = DeviceMemoryCopy.Width(address, left, pointerSize: 8);
                Assert.That(address % (ulong)width == 0 && (ulong)width <= left, $"64-bit width {width} at {address} with {left} left");
            }
        Assert.That(DeviceMemoryCopy.Width(0x1000, 8, pointerSize: 8), Is.EqualTo(8), "a 64-bit process keeps its 8-byte accesses");
    }
}
