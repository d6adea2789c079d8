using AmpCan.Host.Service;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.SocketCan;

namespace AmpCan.Tests.Host;

/// <summary>
/// <c>ampcan vhost-user --device can --can-devices vcan0</c>: a QEMU guest's Linux virtio_can on a SocketCAN interface
/// of the host, as vhost-device-can serves it. Needs CAN in the host's kernel (a vcan0 that is up) besides the guest.
/// </summary>
#pragma warning disable CS0618 // Timeout: see tests/TestTimeLimit.cs
[TestFixture, Category("VirtioVm"), NonParallelizable, Timeout(300_000)] // a TCG guest may take its whole two minutes
#pragma warning restore CS0618
public class VhostUserCanSocketCanTests
{
    [Test]
    public void AGuestsFramesGoOutOnTheHostsInterfaceAndComeBackIn()
    {
        if (!File.Exists("/sys/class/net/vcan0/ifindex") || File.ReadAllText("/sys/class/net/vcan0/operstate").Trim() is not ("up" or "unknown"))
            Assert.Ignore("needs CAN in the host's kernel and an interface vcan0 that is up (ip link add vcan0 type vcan; ip link set vcan0 up); "
                + "this machine's kernel has no CAN (the SocketCAN port itself is tested in the kernel VM: SocketCanGuestTests)");
        VirtioVmHarness.RequireGuest("Linux's virtio_can against AmpCan on the host's vcan0");
        string dir = Path.Combine(Path.GetTempPath(), $"ampcan cansc {Guid.NewGuid():N}"[..22]);
        Directory.CreateDirectory(dir);
        try
        {
            string socket = Path.Combine(dir, "can.sock");
            using var service = VhostUserCanService.Start([socket], NotificationMode.Adaptive, new CapturingLoggerFactory(), ["vcan0"]);
            using var host = new SocketCanPort("vcan0");
            string script = """
                modprobe virtio_can && ip link set can0 up || exit 2
                candump -L -n 1 -T 30000 can0,2AA:7FF >/tmp/in.log & c=$!
                sleep 0.5
                cansend can0 155#0102 || exit 3
                wait $c; sed 's/^([0-9.]*) /IN /' /tmp/in.log
                """;
            Task<VirtioVmHarness.GuestRun> guest = Task.Run(() => VirtioVmHarness.Run([], TimeSpan.FromSeconds(120), ["--can", socket], "bash", "-c", script));
            CanFrame seen = default;
            // SpinUntil backs off to sleeping: a spinning core would slow the emulated guest it waits for.
            SpinWait.SpinUntil(() => guest.IsCompleted || (host.TryReceive(out seen) && seen.Id == 0x155), TimeSpan.FromSeconds(120));
            Assert.That(seen.Id, Is.EqualTo(0x155u), "the guest's frame reached vcan0");
            host.Send(new CanFrame { Id = 0x2AA, Length = 1 });
            VirtioVmHarness.GuestRun run = guest.Result;
            VirtioVmHarness.AssertGuestRan(run);
            Assert.That(run.Out, Does.Contain("IN can0 2AA#00"), $"the guest said:\n{run.Out}\n{run.Err}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
