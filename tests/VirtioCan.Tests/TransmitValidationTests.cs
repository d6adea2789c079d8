using System.Buffers.Binary;
using AmpCan.VirtioCan.Validation;
using AmpCan.VirtioCan.Wire;

namespace AmpCan.Tests.VirtioCan;

// One test per rule: each message is valid except for the one thing the test names, so removing that rule lets the
// message through (None) or lets a later rule answer, and the assertion on the reason fails.
public class TransmitValidationTests
{
    private const ulong Classic = 1UL << 0, Fd = 1UL << 1, Rtr = 1UL << 2;
    private const ulong All = Classic | Fd | Rtr;

    // The bytes a driver writes: the header laid out by hand (offsets from virtio_can.h), then dataBytes bytes.
    private static byte[] Message(ushort msgType, ushort length, uint flags, uint canId, int dataBytes)
    {
        byte[] b = new byte[16 + dataBytes];
        BinaryPrimitives.WriteUInt16LittleEndian(b, msgType);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), length);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), canId);
        for (int i = 0; i < dataBytes; i++)
            b[16 + i] = (byte)(0xA0 + i);
        return b;
    }

    private static VirtioCanRejection Validate(byte[] message, ulong features) =>
        VirtioCanTransmitValidation.Validate(message, features, out _);

    [Test]
    public void ValidFramesPass()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Validate(Message(0x0001, 8, 0, 0x7FF, 8), Classic), Is.EqualTo(VirtioCanRejection.None));
            Assert.That(Validate(Message(0x0001, 0, 0x8000, 0x1FFFFFFF, 0), Classic), Is.EqualTo(VirtioCanRejection.None));
            Assert.That(Validate(Message(0x0001, 64, 0xC000, 0x1ABCDE12, 64), Fd), Is.EqualTo(VirtioCanRejection.None));
            Assert.That(Validate(Message(0x0001, 8, 0x2000, 0x123, 8), All), Is.EqualTo(VirtioCanRejection.None));
        });
        Assert.That(VirtioCanTransmitValidation.Validate(Message(0x0001, 12, 0xC000, 0x1ABCDE12, 12), Fd, out VirtioCanFrameHeader h), Is.EqualTo(VirtioCanRejection.None));
        Assert.That(h, Is.EqualTo(new VirtioCanFrameHeader(VirtioCanMessageType.Tx, 12, VirtioCanFlags.Extended | VirtioCanFlags.Fd, 0x1ABCDE12)));
    }

    [Test]
    public void ShortHeader() =>
        Assert.That(Validate(Message(0x0001, 0, 0, 0x1, 0)[..15], All), Is.EqualTo(VirtioCanRejection.ShortHeader));

    [Test]
    public void MessageTypeMustBeTx()
    {
        Assert.That(Validate(Message(0x0101, 1, 0, 0x1, 1), All), Is.EqualTo(VirtioCanRejection.WrongMessageType));
        Assert.That(Validate(Message(0x0000, 1, 0, 0x1, 1), All), Is.EqualTo(VirtioCanRejection.WrongMessageType));
    }

    [Test]
    public void UndefinedFlagBit()
    {
        Assert.That(Validate(Message(0x0001, 1, 0x0001, 0x1, 1), All), Is.EqualTo(VirtioCanRejection.UndefinedFlags));
        Assert.That(Validate(Message(0x0001, 1, 0x8000_0000, 0x1, 1), All), Is.EqualTo(VirtioCanRejection.UndefinedFlags));
        // 0x1000 sits right below RTR: the defined set is exactly 0xE000.
        Assert.That(Validate(Message(0x0001, 1, 0x1000, 0x1, 1), All), Is.EqualTo(VirtioCanRejection.UndefinedFlags));
    }

    [Test]
    public void ClassicFrameNeedsCanClassic() =>
        Assert.That(Validate(Message(0x0001, 8, 0, 0x100, 8), Fd), Is.EqualTo(VirtioCanRejection.ClassicNotNegotiated));

    [Test]
    public void FdFrameNeedsCanFd() =>
        Assert.That(Validate(Message(0x0001, 8, 0x4000, 0x100, 8), Classic | Rtr), Is.EqualTo(VirtioCanRejection.FdNotNegotiated));

    [Test]
    public void RtrFrameNeedsRtrFrames() =>
        Assert.That(Validate(Message(0x0001, 2, 0x2000, 0x100, 2), Classic | Fd), Is.EqualTo(VirtioCanRejection.RtrNotNegotiated));

    [Test]
    public void RtrNeverWithFd() =>
        Assert.That(Validate(Message(0x0001, 8, 0x6000, 0x100, 8), All), Is.EqualTo(VirtioCanRejection.RtrWithFd));

    [Test]
    public void StandardIdAtMost0x7FF()
    {
        Assert.That(Validate(Message(0x0001, 1, 0, 0x7FF, 1), All), Is.EqualTo(VirtioCanRejection.None));
        Assert.That(Validate(Message(0x0001, 1, 0, 0x800, 1), All), Is.EqualTo(VirtioCanRejection.StandardIdOutOfRange));
    }

    [Test]
    public void ExtendedIdAtMost29Bits()
    {
        Assert.That(Validate(Message(0x0001, 1, 0x8000, 0x1FFFFFFF, 1), All), Is.EqualTo(VirtioCanRejection.None));
        Assert.That(Validate(Message(0x0001, 1, 0x8000, 0x20000000, 1), All), Is.EqualTo(VirtioCanRejection.ExtendedIdOutOfRange));
        // Linux's CAN_EFF_FLAG (bit 31) left in can_id is one of the 3 most significant bits the spec says are 0.
        Assert.That(Validate(Message(0x0001, 1, 0x8000, 0x80000123, 1), All), Is.EqualTo(VirtioCanRejection.ExtendedIdOutOfRange));
    }

    [Test]
    public void ClassicLengthAtMost8()
    {
        Assert.That(Validate(Message(0x0001, 9, 0, 0x100, 9), All), Is.EqualTo(VirtioCanRejection.ClassicLengthOutOfRange));
        // An RTR frame is classic: its length (the requested DLC) is bounded the same way.
        Assert.That(Validate(Message(0x0001, 9, 0x2000, 0x100, 9), All), Is.EqualTo(VirtioCanRejection.ClassicLengthOutOfRange));
    }

    [Test]
    public void FdLengthOnlyTheDlcLengths()
    {
        int[] valid = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];
        for (int len = 0; len <= 70; len++)
        {
            VirtioCanRejection expected = valid.Contains(len) ? VirtioCanRejection.None : VirtioCanRejection.FdLengthInvalid;
            Assert.That(Validate(Message(0x0001, (ushort)len, 0x4000, 0x100, len), Fd), Is.EqualTo(expected), $"FD length {len}");
        }
        Assert.That(Validate(Message(0x0001, 2048, 0x4000, 0x100, 2048), Fd), Is.EqualTo(VirtioCanRejection.FdLengthInvalid));
    }

    [Test]
    public void DataMustBePresentForLength()
    {
        Assert.That(Validate(Message(0x0001, 8, 0, 0x100, 7), All), Is.EqualTo(VirtioCanRejection.DataShorterThanLength));
        Assert.That(Validate(Message(0x0001, 64, 0x4000, 0x100, 0), All), Is.EqualTo(VirtioCanRejection.DataShorterThanLength));
    }

    [Test]
    public void RtrCarriesLengthBytesAsTheLinuxDriverSendsThem()
    {
        // Linux virtio_can_start_xmit: out sg = 16 + cf->len, sdu zeroed (kzalloc) for RTR.
        Assert.That(Validate(Message(0x0001, 4, 0x2000, 0x100, 4), All), Is.EqualTo(VirtioCanRejection.None));
        Assert.That(Validate(Message(0x0001, 4, 0x2000, 0x100, 0), All), Is.EqualTo(VirtioCanRejection.DataShorterThanLength));
    }

    [Test]
    public void BytesAfterLengthAreIgnored() =>
        Assert.That(Validate(Message(0x0001, 2, 0, 0x100, 64), All), Is.EqualTo(VirtioCanRejection.None));
}
