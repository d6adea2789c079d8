using AmpCan.VirtioCan.Wire;

namespace AmpCan.Tests.VirtioCan;

// Every byte vector below is written by hand from include/uapi/linux/virtio_can.h (linux 7.3.4), not produced by the
// code under test: le16 msg_type, le16 length, u8 reserved_classic_dlc, u8 padding, le16 reserved_xl_priority,
// le32 flags, le32 can_id.
public class WireTests
{
    // TX, 12 data bytes, flags EXTENDED|FD (0x8000|0x4000), can_id 0x1ABCDE12.
    private static readonly byte[] ExtendedFdTx =
    [
        0x01, 0x00, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xC0, 0x00, 0x00, 0x12, 0xDE, 0xBC, 0x1A,
    ];

    // TX, length 4 (the requested DLC), flags RTR (0x2000), can_id 0x123, standard.
    private static readonly byte[] RtrTx =
    [
        0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x20, 0x00, 0x00, 0x23, 0x01, 0x00, 0x00,
    ];

    [Test]
    public void ExtendedFdFrameHeaderBothDirections()
    {
        Assert.That(VirtioCanFrameHeader.TryRead(ExtendedFdTx, out VirtioCanFrameHeader h), Is.True);
        Assert.That(h, Is.EqualTo(new VirtioCanFrameHeader(VirtioCanMessageType.Tx, 12, VirtioCanFlags.Extended | VirtioCanFlags.Fd, 0x1ABCDE12)));
        byte[] written = new byte[16];
        h.Write(written);
        Assert.That(written, Is.EqualTo(ExtendedFdTx));
    }

    [Test]
    public void RtrFrameHeaderBothDirections()
    {
        Assert.That(VirtioCanFrameHeader.TryRead(RtrTx, out VirtioCanFrameHeader h), Is.True);
        Assert.That(h, Is.EqualTo(new VirtioCanFrameHeader(VirtioCanMessageType.Tx, 4, VirtioCanFlags.Rtr, 0x123)));
        byte[] written = new byte[16];
        h.Write(written);
        Assert.That(written, Is.EqualTo(RtrTx));
    }

    [Test]
    public void ReservedFieldsAndUndefinedBitsAreKeptAsRead()
    {
        // RX, length 8, reserved_classic_dlc 0x0F, padding 0xAA, reserved_xl_priority 0x1234, flags 0x00010001, id 0x7FF.
        byte[] wire =
        [
            0x01, 0x01, 0x08, 0x00, 0x0F, 0xAA, 0x34, 0x12,
            0x01, 0x00, 0x01, 0x00, 0xFF, 0x07, 0x00, 0x00,
        ];
        Assert.That(VirtioCanFrameHeader.TryRead(wire, out VirtioCanFrameHeader h), Is.True);
        Assert.That(h, Is.EqualTo(new VirtioCanFrameHeader(VirtioCanMessageType.Rx, 8, 0x0F, 0xAA, 0x1234, (VirtioCanFlags)0x00010001, 0x7FF)));
        byte[] written = new byte[16];
        h.Write(written);
        Assert.That(written, Is.EqualTo(wire));
    }

    [Test]
    public void HeaderWritesOnlyItsSixteenBytes()
    {
        byte[] b = Enumerable.Repeat((byte)0xEE, 20).ToArray();
        new VirtioCanFrameHeader(VirtioCanMessageType.Rx, 0, VirtioCanFlags.None, 0).Write(b);
        Assert.That(b[..16], Is.EqualTo(new byte[] { 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }));
        Assert.That(b[16..], Is.All.EqualTo(0xEE));
    }

    [Test]
    public void ShortBuffersAreRejected()
    {
        Assert.That(VirtioCanFrameHeader.TryRead(ExtendedFdTx.AsSpan(0, 15), out _), Is.False);
        Assert.That(() => default(VirtioCanFrameHeader).Write(new byte[15]), Throws.ArgumentException);
        Assert.That(VirtioCanControlRequest.TryRead(new byte[] { 0x01 }, out _), Is.False);
        Assert.That(() => new VirtioCanControlRequest(VirtioCanMessageType.Start).Write(new byte[1]), Throws.ArgumentException);
        Assert.That(VirtioCanResponse.TryRead(ReadOnlySpan<byte>.Empty, out _), Is.False);
        Assert.That(() => new VirtioCanResponse(VirtioCanResult.Ok).Write(Span<byte>.Empty), Throws.ArgumentException);
        Assert.That(VirtioCanConfig.TryRead(new byte[] { 0x01 }, out _), Is.False);
        Assert.That(() => new VirtioCanConfig(1).Write(new byte[1]), Throws.ArgumentException);
    }

    [Test]
    public void ControlRequestsStartAndStop()
    {
        Assert.That(VirtioCanControlRequest.TryRead(new byte[] { 0x01, 0x02 }, out VirtioCanControlRequest start), Is.True);
        Assert.That(start.MessageType, Is.EqualTo(VirtioCanMessageType.Start));
        Assert.That(VirtioCanControlRequest.TryRead(new byte[] { 0x02, 0x02 }, out VirtioCanControlRequest stop), Is.True);
        Assert.That(stop.MessageType, Is.EqualTo(VirtioCanMessageType.Stop));
        byte[] b = new byte[2];
        new VirtioCanControlRequest(VirtioCanMessageType.Start).Write(b);
        Assert.That(b, Is.EqualTo(new byte[] { 0x01, 0x02 }));
        new VirtioCanControlRequest(VirtioCanMessageType.Stop).Write(b);
        Assert.That(b, Is.EqualTo(new byte[] { 0x02, 0x02 }));
    }

    [Test]
    public void ResponseByteAndOtherValuesCountAsNotOk()
    {
        byte[] b = new byte[1];
        new VirtioCanResponse(VirtioCanResult.NotOk).Write(b);
        Assert.That(b, Is.EqualTo(new byte[] { 0x01 }));
        new VirtioCanResponse(VirtioCanResult.Ok).Write(b);
        Assert.That(b, Is.EqualTo(new byte[] { 0x00 }));
        Assert.That(VirtioCanResponse.TryRead(new byte[] { 0x00 }, out VirtioCanResponse ok) && ok.IsOk, Is.True);
        Assert.That(VirtioCanResponse.TryRead(new byte[] { 0x01 }, out VirtioCanResponse notOk) && !notOk.IsOk, Is.True);
        Assert.That(VirtioCanResponse.TryRead(new byte[] { 0x7F }, out VirtioCanResponse other), Is.True);
        Assert.That(other.IsOk, Is.False);
    }

    [Test]
    public void ConfigStatusBusOffIsBitZero()
    {
        byte[] b = new byte[2];
        new VirtioCanConfig(VirtioCanConfig.StatusBusOff).Write(b);
        Assert.That(b, Is.EqualTo(new byte[] { 0x01, 0x00 }));
        Assert.That(VirtioCanConfig.TryRead(new byte[] { 0x01, 0x00 }, out VirtioCanConfig busOff) && busOff.IsBusOff, Is.True);
        // vhost-device-can's value (2) is not bus-off.
        Assert.That(VirtioCanConfig.TryRead(new byte[] { 0x02, 0x00 }, out VirtioCanConfig two) && two.IsBusOff, Is.False);
    }

    [Test]
    public void ConstantsAsTheHeaderDefinesThem()
    {
        Assert.Multiple(() =>
        {
            Assert.That(VirtioCanIds.DeviceId, Is.EqualTo(36));
            Assert.That((VirtioCanIds.TxQueue, VirtioCanIds.RxQueue, VirtioCanIds.ControlQueue, VirtioCanIds.QueueCount), Is.EqualTo((0, 1, 2, 3)));
            Assert.That((VirtioCanFeatures.CanClassic, VirtioCanFeatures.CanFd, VirtioCanFeatures.RtrFrames, VirtioCanFeatures.LateTxAck), Is.EqualTo((0, 1, 2, 3)));
            Assert.That((ushort)VirtioCanMessageType.Tx, Is.EqualTo(0x0001));
            Assert.That((ushort)VirtioCanMessageType.Rx, Is.EqualTo(0x0101));
            Assert.That((ushort)VirtioCanMessageType.Start, Is.EqualTo(0x0201));
            Assert.That((ushort)VirtioCanMessageType.Stop, Is.EqualTo(0x0202));
            Assert.That(((byte)VirtioCanResult.Ok, (byte)VirtioCanResult.NotOk), Is.EqualTo(((byte)0, (byte)1)));
            Assert.That(((uint)VirtioCanFlags.Extended, (uint)VirtioCanFlags.Fd, (uint)VirtioCanFlags.Rtr), Is.EqualTo((0x8000u, 0x4000u, 0x2000u)));
            Assert.That(VirtioCanFrameHeader.MaxDataLength, Is.EqualTo(64));
            Assert.That(VirtioCanFeatures.Mask(VirtioCanFeatures.LateTxAck), Is.EqualTo(8UL));
        });
    }
}
