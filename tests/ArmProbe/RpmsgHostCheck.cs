using AmpCan.Remoteproc;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.ArmProbe;

/// <summary>
/// The guest is the host-role rpmsg bus (VirtioRpmsgHost) over the resource table, vrings and buffer pool in the BAR
/// (Device memory); the host test process is the remote. Polled on both sides (ivshmem-plain has no interrupts): the
/// remote's name-service announcement, then an echo of every length from 1 to the MTU, checked byte for byte.
/// </summary>
internal static class RpmsgHostCheck
{
    public static int Run(string bdf)
    {
        DeviceBar bar = DeviceBar.Of(bdf, 2);
        using MappedRegion mem = MappedRegion.MapPhysical(bar.Start, bar.Size, ArmVmLayout.DeviceBase);
        var memory = new MemoryMap(mem.Io);
        VdevResource vdev = ResourceTable.Parse(mem.Io.Slice(ArmVmLayout.ResourceTableOffset, 0x1000)).Vdevs[0];
        RpmsgHostOptions options = new RpmsgHostOptions().ForRings(ArmVmLayout.RpmsgRingSize, ArmVmLayout.RpmsgRingSize);
        using var loop = new NotificationLoop("guest-rpmsg", NotificationMode.Polling);
        using var doorbell = new PollingDoorbell();
        loop.Start();
        var driver = new VirtioRpmsgDriver("guest", options);
        var announced = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        new VdevTransport(vdev, memory, doorbell).ProbeDriver(driver, loop, mem.Io.Slice(ArmVmLayout.RpmsgPool, options.PoolSize));
        using VirtioRpmsgHost bus = driver.Bus ?? throw new InvalidOperationException("the rpmsg driver did not bind");
        bus.ChannelCreated += ch => { if (ch.Name == ArmVmLayout.EchoService) announced.TrySetResult(ch); };
        foreach (RpmsgChannel ch in bus.Channels) if (ch.Name == ArmVmLayout.EchoService) announced.TrySetResult(ch);
        Report.Info($"rpmsg host bus up: {bus.RxBuffers} rx + {bus.TxBuffers} tx buffers in {mem}, MTU {bus.Mtu}");
        if (!announced.Task.Wait(TimeSpan.FromSeconds(60))) return Report.Fail("rpmsg", $"no name-service announcement of '{ArmVmLayout.EchoService}' within 60 s");
        RpmsgChannel echo = announced.Task.Result;
        Report.Pass("rpmsg-ns", $"'{echo.Name}' announced at 0x{echo.RemoteAddress:x}");

        using RpmsgEndpoint ep = bus.CreateEndpoint(echo, callback: null) ?? throw new InvalidOperationException("no endpoint for the channel");
        byte[] payload = new byte[bus.Mtu];
        for (int len = 1; len <= bus.Mtu; len++)
        {
            for (int i = 0; i < len; i++) payload[i] = ArmVmLayout.MessageByte(len, i);
            ep.Send(payload.AsSpan(0, len), TimeSpan.FromSeconds(20));
            using RpmsgMessage reply = ep.Receive(TimeSpan.FromSeconds(20));
            ReadOnlySpan<byte> got = reply.Payload;
            if (got.Length != len) return Report.Fail("rpmsg", $"echo of {len} bytes came back with {got.Length}");
            int same = got.CommonPrefixLength(payload.AsSpan(0, len));
            if (same != len) return Report.Fail("rpmsg", $"echo of {len} bytes: byte {same} is 0x{got[same]:x2}, sent 0x{payload[same]:x2}");
        }
        Report.Pass("rpmsg", $"echo of every length 1..{bus.Mtu} through the buffers in the BAR, every byte checked");
        if (bus.Failure is Exception f) return Report.Fail("rpmsg", $"the bus failed: {f.Message}");
        return 0;
    }
}
