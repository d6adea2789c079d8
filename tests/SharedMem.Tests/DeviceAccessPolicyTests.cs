using AmpCan.SharedMem;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// What each IoRegion path does to device memory, seen through the access log (nothing faults on x86, so the policy is
/// observed instead): every access naturally aligned, as wide as the alignment and what is left allow, none wider than
/// 8 bytes (4 in a 32-bit process), covering exactly the bytes asked for; and no span into device memory at all.
/// </summary>
public class DeviceAccessPolicyTests
{
    private MappedRegion _map = null!;
    private IoRegion _device = null!;
    private readonly List<DeviceAccess> _log = [];

    [SetUp]
    public void SetUp()
    {
        _map = MappedRegion.CreateMemfd("policy", 0x1000, 0x4000_0000);
        _device = _map.Io.AsDeviceMemory();
        _log.Clear();
    }

    [TearDown]
    public void TearDown() => _map.Dispose();

    private ulong Base
    {
        get
        {
            // The mapping's address, through the one access the log sees: a byte read at offset 0.
            using (DeviceAccessLog.Record(_log)) _device.ReadU8(0);
            ulong address = _log.Single().Address;
            _log.Clear();
            return address;
        }
    }

    private List<DeviceAccess> Recorded(Action action)
    {
        _log.Clear();
        using (DeviceAccessLog.Record(_log)) action();
        return [.. _log];
    }

    // Greedy natural alignment, as memcpy_toio does it: at each address the widest of 8/4/2/1 it is aligned to and that fits.
    private static void AssertCovers(List<DeviceAccess> accesses, ulong start, int length, bool write, string what)
    {
        ulong at = start;
        foreach (DeviceAccess a in accesses)
        {
            Assert.That(a.Address, Is.EqualTo(at), $"{what}: accesses are contiguous");
            Assert.That(a.IsWrite, Is.EqualTo(write), $"{what}: direction");
            Assert.That(a.Width, Is.AnyOf(1, 2, 4, 8), what);
            Assert.That(a.Address % (ulong)a.Width, Is.Zero, $"{what}: a {a.Width}-byte access at 0x{a.Address:x} is not naturally aligned");
            int widest = DeviceMemoryCopy.Width(a.Address, start + (ulong)length - at, 8);
            Assert.That(a.Width, Is.EqualTo(widest), $"{what}: at 0x{a.Address:x} the access is as wide as alignment and length allow");
            at += (ulong)a.Width;
        }
        Assert.That(at, Is.EqualTo(start + (ulong)length), $"{what}: exactly the bytes asked for");
    }

    [Test]
    public void CopiesAndClearsAreAlignedWordByWordAtEveryOffsetAndLength()
    {
        ulong b = Base;
        byte[] source = [.. Enumerable.Range(1, 64).Select(i => (byte)(i * 29 + 1))];
        for (int offset = 0; offset < 16; offset++)
        {
            for (int length = 0; length <= 40; length++)
            {
                string what = $"+{offset}, {length} bytes";
                _map.Io.GetSpan(0, 0x100).Fill(0xEE);
                AssertCovers(Recorded(() => _device.Write((ulong)offset, source.AsSpan(0, length))), b + (ulong)offset, length, true, "write " + what);
                byte[] back = new byte[length];
                AssertCovers(Recorded(() => _device.Read((ulong)offset, back)), b + (ulong)offset, length, false, "read " + what);
                Assert.That(back, Is.EqualTo(source.AsSpan(0, length).ToArray()), what);
                AssertCovers(Recorded(() => _device.Clear((ulong)offset, (ulong)length)), b + (ulong)offset, length, true, "clear " + what);
                byte[] all = _map.Io.GetSpan(0, 0x100).ToArray();
                Assert.That(all.AsSpan(offset, length).ContainsAnyExcept((byte)0), Is.False, $"clear {what}: zeroed");
                Assert.That(all.AsSpan(0, offset).ContainsAnyExcept((byte)0xEE) || all.AsSpan(offset + length).ContainsAnyExcept((byte)0xEE), Is.False,
                    $"clear {what}: nothing outside touched");
            }
        }
    }

    [Test]
    public void ALargeClearOfDeviceMemoryIsEightByteStoresBetweenItsUnalignedEnds()
    {
        ulong b = Base;
        _map.Io.GetSpan(0, 0x1000).Fill(0x77);
        List<DeviceAccess> log = Recorded(() => _device.Clear(3, 0xFF0));
        AssertCovers(log, b + 3, 0xFF0, true, "clear");
        Assert.That(log.Select(a => a.Width).Take(3), Is.EqualTo(new[] { 1, 4, 8 }), "1 byte to a 4-byte boundary, then 4 to an 8-byte one");
        Assert.That(log.Count(a => a.Width == 8), Is.EqualTo((0xFF0 - 5 - 3) / 8));
        Assert.That(_map.Io.GetSpan(3, 0xFF0).ContainsAnyExcept((byte)0), Is.False);
        Assert.That(Recorded(() => _map.Io.Clear(3, 0xFF0)), Is.Empty, "ordinary memory keeps the vector path");
    }

    [TestCase(0, new[] { 2 }, new[] { 4 }, new[] { 8 })]
    [TestCase(1, new[] { 1, 1 }, new[] { 1, 2, 1 }, new[] { 1, 2, 4, 1 })]
    [TestCase(2, new[] { 2 }, new[] { 2, 2 }, new[] { 2, 4, 2 })]
    [TestCase(4, new[] { 2 }, new[] { 4 }, new[] { 4, 4 })]
    [TestCase(6, new[] { 2 }, new[] { 2, 2 }, new[] { 2, 4, 2 })]
    public void ScalarAccessorsSplitAnUnalignedOffsetIntoAlignedPieces(int offset, int[] u16, int[] u32, int[] u64)
    {
        ulong at = (ulong)(0x40 + offset);
        Assert.That(Recorded(() => _device.WriteU16(at, 0xA1B2)).Select(a => a.Width), Is.EqualTo(u16), "WriteU16");
        Assert.That(Recorded(() => Assert.That(_device.ReadU16(at), Is.EqualTo(0xA1B2))).Select(a => a.Width), Is.EqualTo(u16), "ReadU16");
        Assert.That(_map.Io.GetSpan(at, 2).ToArray(), Is.EqualTo(new byte[] { 0xB2, 0xA1 }), "little-endian");
        Assert.That(Recorded(() => _device.WriteU32(at, 0xC3D4E5F6)).Select(a => a.Width), Is.EqualTo(u32), "WriteU32");
        Assert.That(Recorded(() => Assert.That(_device.ReadU32(at), Is.EqualTo(0xC3D4E5F6))).Select(a => a.Width), Is.EqualTo(u32), "ReadU32");
        Assert.That(Recorded(() => _device.WriteU64(at, 0x0102030405060708)).Select(a => a.Width), Is.EqualTo(u64), "WriteU64");
        Assert.That(Recorded(() => Assert.That(_device.ReadU64(at), Is.EqualTo(0x0102030405060708UL))).Select(a => a.Width), Is.EqualTo(u64), "ReadU64");
        Assert.That(_map.Io.GetSpan(at, 8).ToArray(), Is.EqualTo(new byte[] { 8, 7, 6, 5, 4, 3, 2, 1 }));
        Assert.That(Recorded(() => _device.WriteU8(at, 0x5A)).Select(a => a.Width), Is.EqualTo(new[] { 1 }), "WriteU8");
        Assert.That(Recorded(() => Assert.That(_device.ReadU8(at), Is.EqualTo(0x5A))).Select(a => a.Width), Is.EqualTo(new[] { 1 }), "ReadU8");
        Assert.That(Recorded(() => { _map.Io.WriteU64(at, 1); _map.Io.ReadU32(at); _map.Io.WriteU8(at, 1); }), Is.Empty, "ordinary memory: no device path");
    }

    [Test]
    public void WireStructsInDeviceMemoryMoveAsAlignedWords()
    {
        ulong b = Base;
        var used = (Id: 0x11223344u, Length: 0x55667788u); // a used element: 8 bytes at a 4-byte boundary
        AssertCovers(Recorded(() => _device.Write(0x14, used)), b + 0x14, 8, true, "struct write");
        AssertCovers(Recorded(() => Assert.That(_device.Read<(uint, uint)>(0x14), Is.EqualTo(used))), b + 0x14, 8, false, "struct read");
    }

    [Test]
    public void AThirtyTwoBitProcessNeverMakesAnEightByteDeviceAccess()
    {
        for (ulong address = 0x1000; address < 0x1010; address++)
        {
            for (ulong left = 1; left <= 24; left++)
            {
                int w32 = DeviceMemoryCopy.Width(address, left, 4), w64 = DeviceMemoryCopy.Width(address, left, 8);
                Assert.That(w32, Is.LessThanOrEqualTo(4).And.LessThanOrEqualTo((int)left));
                Assert.That(address % (ulong)w32, Is.Zero);
                Assert.That(w32, Is.EqualTo(Math.Min(w64, 4)), $"0x{address:x}, {left} left: the same pieces, 8-byte ones as two 4-byte");
            }
        }
    }

    [Test]
    public void SixtyFourBitAtomicsOnDeviceMemoryAreRefusedInAThirtyTwoBitProcessOnly()
    {
        var e = Assert.Throws<NotSupportedException>(() => _device.CheckAtomic(0x10, 8, pointerSize: 4));
        Assert.That(e!.Message, Does.Contain("'policy'").And.Contain("64-bit").And.Contain("32-bit process"));
        Assert.DoesNotThrow(() => _device.CheckAtomic(0x10, 4, pointerSize: 4), "32-bit atomics are single LDR/STR");
        Assert.DoesNotThrow(() => _device.CheckAtomic(0x10, 8, pointerSize: 8), "64-bit process: one LDAR/STLR");
        Assert.DoesNotThrow(() => _map.Io.CheckAtomic(0x10, 8, pointerSize: 4), "ordinary memory: LDREXD/STREXD work there");
        _device.WriteU64Release(0x10, 0xFEDCBA9876543210); // this process is 64-bit: allowed
        Assert.That(_device.ReadU64Acquire(0x10), Is.EqualTo(0xFEDCBA9876543210UL));
    }

    [Test]
    public void NobodyGetsASpanIntoDeviceMemory()
    {
        var e = Assert.Throws<InvalidOperationException>(() => _device.GetSpan(0x20, 16));
        Assert.That(e!.Message, Does.Contain("'policy'").And.Contain("device memory").And.Contain("Read/Write"));
        Assert.Throws<InvalidOperationException>(() => _device.Slice(0x100, 0x100).GetSpan(0, 1), "a slice keeps the policy");
        Assert.Throws<SharedMemoryBoundsException>(() => _device.GetSpan(0xFF8, 16), "bounds are still checked first");
        Assert.That(_map.Io.GetSpan(0x20, 16).Length, Is.EqualTo(16), "ordinary memory still has spans");
    }
}
