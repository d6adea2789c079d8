using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Wire;

namespace AmpCan.Tests.VirtioCan;

// Expected bytes are written by hand from struct virtio_can_rx (linux 7.3.4 virtio_can.h). Buffers start filled with
// 0xEE so that a byte the formatter should not touch, or should have zeroed, shows.
public class ReceiveFormatTests
{
    private static byte[] Buffer(int size) => Enumerable.Repeat((byte)0xEE, size).ToArray();

    [Test]
    public void ClassicFrameIntoTheLinuxClassicBuffer()
    {
        byte[] buffer = Buffer(24); // Linux posts 16 + 8 bytes when CAN_FD is not negotiated
        Assert.That(VirtioCanReceiveFormat.TryWriteData(buffer, VirtioCanFlags.None, 0x123, new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, out int used), Is.True);
        Assert.That(used, Is.EqualTo(20));
        Assert.That(buffer, Is.EqualTo(new byte[]
        {
            0x01, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x23, 0x01, 0x00, 0x00,
            0xDE, 0xAD, 0xBE, 0xEF, 0xEE, 0xEE, 0xEE, 0xEE,
        }));
    }

    [Test]
    public void ExtendedFd64FillsTheLinuxFdBuffer()
    {
        byte[] buffer = Buffer(80); // Linux posts 16 + 64 bytes when CAN_FD is negotiated
        byte[] data = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        Assert.That(VirtioCanReceiveFormat.TryWriteData(buffer, VirtioCanFlags.Extended | VirtioCanFlags.Fd, 0x1ABCDE12, data, out int used), Is.True);
        Assert.That(used, Is.EqualTo(80));
        Assert.That(buffer[..16], Is.EqualTo(new byte[]
        {
            0x01, 0x01, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0xC0, 0x00, 0x00, 0x12, 0xDE, 0xBC, 0x1A,
        }));
        Assert.That(buffer[16..], Is.EqualTo(data));
    }

    [Test]
    public void RtrFrameCarriesLengthZeroBytes()
    {
        byte[] buffer = Buffer(26);
        Assert.That(VirtioCanReceiveFormat.TryWriteRemoteRequest(buffer, extended: true, 0x456, 8, out int used), Is.True);
        Assert.That(used, Is.EqualTo(24), "16 + length, or Linux drops the frame");
        Assert.That(buffer, Is.EqualTo(new byte[]
        {
            0x01, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0xA0, 0x00, 0x00, 0x56, 0x04, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0xEE, 0xEE,
        }));
    }

    [Test]
    public void EmptyFramesAreHeaderOnly()
    {
        byte[] buffer = Buffer(16);
        Assert.That(VirtioCanReceiveFormat.TryWriteRemoteRequest(buffer, extended: false, 0x7FF, 0, out int used), Is.True);
        Assert.That(used, Is.EqualTo(16));
        Assert.That(buffer, Is.EqualTo(new byte[] { 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0x00, 0x20, 0, 0, 0xFF, 0x07, 0, 0 }));
        Assert.That(VirtioCanReceiveFormat.TryWriteData(Buffer(16), VirtioCanFlags.None, 0x1, ReadOnlySpan<byte>.Empty, out used), Is.True);
        Assert.That(used, Is.EqualTo(16));
    }

    [Test]
    public void TooSmallBufferIsRefusedUntouched()
    {
        byte[] classic = Buffer(24);
        Assert.That(VirtioCanReceiveFormat.TryWriteData(classic, VirtioCanFlags.Fd, 0x100, new byte[12], out int used), Is.False);
        Assert.That(used, Is.EqualTo(0));
        Assert.That(classic, Is.All.EqualTo(0xEE));

        byte[] oneShort = Buffer(23);
        Assert.That(VirtioCanReceiveFormat.TryWriteRemoteRequest(oneShort, extended: false, 0x100, 8, out used), Is.False);
        Assert.That(oneShort, Is.All.EqualTo(0xEE));
        Assert.That(VirtioCanReceiveFormat.TryWriteData(Buffer(15), VirtioCanFlags.None, 0x100, ReadOnlySpan<byte>.Empty, out _), Is.False);
    }

    [Test]
    public void WhatCannotBeWrittenThrows()
    {
        Assert.That(() => VirtioCanReceiveFormat.TryWriteData(Buffer(100), VirtioCanFlags.Rtr, 0x1, new byte[1], out _), Throws.ArgumentException);
        Assert.That(() => VirtioCanReceiveFormat.TryWriteData(Buffer(100), VirtioCanFlags.Fd, 0x1, new byte[65], out _), Throws.ArgumentException);
        Assert.That(() => VirtioCanReceiveFormat.TryWriteRemoteRequest(Buffer(100), false, 0x1, 9, out _), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
