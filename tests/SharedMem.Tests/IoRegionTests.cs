using AmpCan.SharedMem;

namespace AmpCan.Tests.SharedMem;

public class IoRegionTests
{
    private MappedRegion _map = null!;

    [SetUp]
    public void SetUp() => _map = MappedRegion.CreateMemfd("t-io", 4096, 0x8000);

    [TearDown]
    public void TearDown() => _map.Dispose();

    [Test]
    public void AccessorsAreLittleEndianOnTheWire()
    {
        IoRegion io = _map.Io;
        io.WriteU16(0, 0x1122);
        io.WriteU32(2, 0x33445566);
        io.WriteU64(6, 0x778899AABBCCDDEE);
        io.WriteU8(14, 0xFF);
        byte[] raw = new byte[15];
        io.Read(0, raw);
        Assert.That(raw, Is.EqualTo(new byte[] { 0x22, 0x11, 0x66, 0x55, 0x44, 0x33, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99, 0x88, 0x77, 0xFF }));
    }

    // The ordering acquire and release promise cannot be observed on x86-64 (its loads and stores are ordered already);
    // this checks their values and byte order only.
    [Test]
    public void AcquireAndReleaseAccessorsRoundTripLittleEndian()
    {
        IoRegion io = _map.Io;
        io.WriteU16Release(2, 0xBEEF);
        io.WriteU32Release(8, 0xCAFEBABE);
        io.WriteU8Release(13, 0x5A);
        io.WriteU64Release(16, 0x0123_4567_89AB_CDEF);
        Assert.Multiple(() =>
        {
            Assert.That(io.ReadU64Acquire(16), Is.EqualTo(0x0123_4567_89AB_CDEFUL));
            Assert.That(io.GetSpan(16, 8).ToArray(), Is.EqualTo(new byte[] { 0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01 }));
            Assert.That(io.ReadU16Acquire(2), Is.EqualTo(0xBEEF));
            Assert.That(io.ReadU32Acquire(8), Is.EqualTo(0xCAFEBABE));
            Assert.That(io.ReadU8Acquire(13), Is.EqualTo(0x5A));
            Assert.That(io.GetSpan(2, 2).ToArray(), Is.EqualTo(new byte[] { 0xEF, 0xBE }));
        });
    }

    [TestCase(1024UL, 1)]
    [TestCase(1023UL, 2)]
    [TestCase(ulong.MaxValue, 4)]
    [TestCase(1022UL, 4)]
    public void OutOfBoundsAccessThrowsAndTouchesNothing(ulong offset, int size)
    {
        // A window in the middle of the mapping, so that a write past (or, wrapped, before) its ends lands in mapped
        // memory where it shows, instead of faulting.
        _map.Io.GetSpan(0, 4096).Fill(0x5A);
        IoRegion io = _map.Io.Slice(2048, 1024);
        Assert.Throws<SharedMemoryBoundsException>(() => Read(io, offset, size));
        Assert.Throws<SharedMemoryBoundsException>(() => Write(io, offset, size));
        Assert.That(_map.Io.GetSpan(0, 4096).ToArray(), Is.All.EqualTo(0x5A), "a refused write touches nothing");

        static void Read(IoRegion io, ulong offset, int size)
        {
            switch (size)
            {
                case 1: io.ReadU8(offset); break;
                case 2: io.ReadU16(offset); break;
                default: io.ReadU32(offset); break;
            }
        }

        static void Write(IoRegion io, ulong offset, int size)
        {
            switch (size)
            {
                case 1: io.WriteU8(offset, 0xEE); break;
                case 2: io.WriteU16(offset, 0xEEEE); break;
                default: io.WriteU32(offset, 0xEEEEEEEE); break;
            }
        }
    }

    [Test]
    public void SpanAndSliceAreBoundsChecked()
    {
        IoRegion io = _map.Io;
        Assert.Multiple(() =>
        {
            Assert.Throws<SharedMemoryBoundsException>(() => io.GetSpan(4000, 97));
            Assert.Throws<SharedMemoryBoundsException>(() => io.GetSpan(0, -1));
            Assert.Throws<SharedMemoryBoundsException>(() => io.Slice(4000, 97));
            Assert.Throws<SharedMemoryBoundsException>(() => io.Slice(1, ulong.MaxValue));
            Assert.That(io.GetSpan(4000, 96).Length, Is.EqualTo(96));
        });
        IoRegion s = io.Slice(0x100, 0x10);
        Assert.Multiple(() =>
        {
            Assert.That(s.DeviceAddress, Is.EqualTo(0x8100UL));
            Assert.Throws<SharedMemoryBoundsException>(() => s.ReadU32(0x0D));
        });
        s.WriteU32(0x0C, 0xA1B2C3D4);
        Assert.That(io.ReadU32(0x10C), Is.EqualTo(0xA1B2C3D4));
    }

    [Test]
    public void MisalignedAtomicAccessIsRefused()
    {
        IoRegion io = _map.Io;
        Assert.Multiple(() =>
        {
            Assert.Throws<SharedMemoryBoundsException>(() => io.ReadU16Acquire(1));
            Assert.Throws<SharedMemoryBoundsException>(() => io.WriteU32Release(6, 0));
            Assert.Throws<SharedMemoryBoundsException>(() => io.ReadU64Acquire(12));
            Assert.Throws<SharedMemoryBoundsException>(() => io.WriteU64Release(4, 0));
            Assert.DoesNotThrow(() => io.ReadU32(6), "plain accessors allow unaligned access");
        });
    }

    // Read<T> is one copy of the struct (so that the peer cannot change it between validation and use); whether the
    // copy is a single load cannot be observed from here, so the name promises the copy and the bounds only.
    [Test]
    public void WireStructIsCopiedOutAndBoundsChecked()
    {
        IoRegion io = _map.Io;
        io.Write(0x20, new byte[] { 1, 0, 0, 0, 2, 0, 0, 0 });
        var pair = io.Read<(uint A, uint B)>(0x20);
        io.WriteU32(0x20, 3);
        Assert.That(pair, Is.EqualTo((1u, 2u)), "a copy, not a view: a later write by the peer does not change it");
        Assert.Throws<SharedMemoryBoundsException>(() => io.Read<long>(4090));
    }

    [Test]
    public void ClearZeroesExactlyTheRange()
    {
        IoRegion io = _map.Io;
        io.GetSpan(0, 64).Fill(0xAA);
        io.Clear(8, 16);
        byte[] raw = new byte[64];
        io.Read(0, raw);
        Assert.That(raw[7], Is.EqualTo(0xAA));
        Assert.That(raw[8..24], Is.All.EqualTo(0));
        Assert.That(raw[24], Is.EqualTo(0xAA));
    }
}
