using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.Wire;
using AmpCan.Vring;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// The virtio-can driver and device with the resource table, the rings and the driver's buffers in device memory (as
/// through /dev/mem): frames of every kind cross both ways byte for byte, although neither side may take a span into
/// that memory (the device formats a received frame aside and copies it in word by word).
/// </summary>
public class DeviceMemoryCanTests
{
    private static readonly ulong Offered = VirtioCanFeatures.Mask(VirtioCanFeatures.CanClassic) | VirtioCanFeatures.Mask(VirtioCanFeatures.CanFd)
        | VirtioCanFeatures.Mask(VirtioCanFeatures.RtrFrames) | VirtioRingFeatures.Bit(VirtioRingFeatures.EventIndex) | VirtioRingFeatures.Bit(VirtioRingFeatures.IndirectDescriptors);

    private static CanFrame Frame(uint id, CanFrameKind kind, int length, int seed)
    {
        var f = new CanFrame { Id = id, Kind = kind, Length = (byte)length };
        if ((kind & CanFrameKind.Remote) == 0)
            for (int i = 0; i < length; i++) f.Payload[i] = (byte)(i * 13 + seed);
        return f;
    }

    [Test]
    public void FramesOfEveryKindAndLengthCrossBothWaysThroughDeviceMemory()
    {
        using var pair = new CanVdevPair("can-devmem", Offered, deviceMemory: true);
        Assert.That(pair.Window.Attributes, Is.EqualTo(AmpCan.SharedMem.MemoryAttributes.Device));
        pair.Connect(Offered);
        Assert.That(CanVdevPair.Await(pair.Driver.StartAsync(), "START"), Is.True);

        var frames = new List<CanFrame>();
        foreach (int length in new[] { 0, 1, 2, 3, 5, 7, 8 }) frames.Add(Frame(0x100u + (uint)length, CanFrameKind.None, length, length));
        foreach (int length in new[] { 12, 16, 20, 24, 32, 48, 64 }) frames.Add(Frame(0x1000_0000u + (uint)length, CanFrameKind.Extended | CanFrameKind.Fd, length, length));
        frames.Add(new CanFrame { Id = 0x321, Kind = CanFrameKind.Remote, Length = 5 });
        int n = 0;
        foreach (CanFrame f in frames)
        {
            n++;
            Assert.That(pair.Driver.Send(f), Is.EqualTo(CanSendResult.Sent));
            AssertSame(CanVdevPair.Next(pair.Other, $"frame {n} on the bus"), f, $"driver to bus, frame {n}");
            pair.Other.Send(f);
            AssertSame(CanVdevPair.Next(pair.Driver, $"frame {n} at the driver"), f, $"bus to driver, frame {n}");
        }
        CanVdevPair.Until(() => pair.Driver.Counters.TransmitsConfirmed == frames.Count, "every transmit answered OK");
        Assert.That(pair.Driver.Counters.TransmitsFailed, Is.Zero);
        Assert.That(pair.Driver.Counters.MalformedReceives, Is.Zero);
        Assert.That(pair.LoopFaults, Is.Empty, "no handler tripped over device memory (a span into it throws)");
    }

    private static void AssertSame(CanFrame got, CanFrame sent, string what)
    {
        Assert.That((got.Id, got.Kind, got.Length), Is.EqualTo((sent.Id, sent.Kind, sent.Length)), what);
        Assert.That(got.Payload.ToArray(), Is.EqualTo(sent.Payload.ToArray()), $"{what}: data");
    }
}
