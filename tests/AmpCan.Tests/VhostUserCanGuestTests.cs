using AmpCan.Host.Service;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.Host;

/// <summary>
/// AmpCan's virtio-can device served over vhost-user to a QEMU guest running Linux's own <c>virtio_can</c> driver
/// (built from the guest kernel's source) and can-utils: two controllers on AmpCan's in-process bus, frames from the
/// guest to the host's member of the bus and from the host back into the guest.
/// </summary>
// A TCG guest's run may take its whole GuestLimit on a loaded 2-core host; the assembly's two minutes would cut it.
#pragma warning disable CS0618 // Timeout: see tests/TestTimeLimit.cs
[TestFixture, Category("VirtioVm"), NonParallelizable, Timeout(300_000)]
#pragma warning restore CS0618
public class VhostUserCanGuestTests
{
    private static readonly TimeSpan GuestLimit = TimeSpan.FromSeconds(120);
    private string _dir = null!;
    private string[] _sockets = null!;
    private VhostUserCanService _service = null!;
    private readonly CapturingLoggerFactory _logs = new();

    [OneTimeSetUp]
    public void StartTheBackEnd()
    {
        VirtioVmHarness.RequireGuest("Linux's virtio_can against AmpCan's vhost-user back end");
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan can {Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(_dir);
        _sockets = [Path.Combine(_dir, "can.sock0"), Path.Combine(_dir, "can.sock1")];
        _service = VhostUserCanService.Start(_sockets, NotificationMode.Adaptive, _logs);
    }

    [OneTimeTearDown]
    public void StopTheBackEnd()
    {
        _service?.Dispose();
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void FramesCrossAmpCansBusBetweenTheGuestsControllersAndTheHost()
    {
        using VirtualCanPort host = _service.Bus.Attach("test");
        // The guest: both controllers up (START), a listener on can1 for the guest's own frames, then classic, FD and
        // remote frames from can0; can0 goes down (STOP) and up again, gets a listener for the host's answer (a socket
        // does not outlive its interface going down), and sends once more, which is when the host answers.
        string script = """
            modprobe virtio_can && ip link set can0 up && ip link set can1 up || exit 2
            candump -L -n 4 -T 20000 can1 >/tmp/can1.log & c1=$!
            sleep 0.5
            cansend can0 123#DEADBEEF && cansend can0 1FFFFFFF##1112233 && cansend can0 456#R3 || exit 3
            ip link set can0 down && ip link set can0 up || exit 4
            candump -L -n 1 -T 20000 can0,7AB:7FF >/tmp/can0.log & c0=$!
            sleep 0.5
            cansend can0 321#01 || exit 5
            wait $c1 $c0
            sed 's/^([0-9.]*) /CAN1 /' /tmp/can1.log; sed 's/^([0-9.]*) /CAN0 /' /tmp/can0.log
            ip -details link show can0 | grep -o 'state ERROR-[A-Z]*'
            """;
        Task<VirtioVmHarness.GuestRun> guest = Task.Run(() => VirtioVmHarness.Run([], GuestLimit, ["--can", _sockets[0], "--can", _sockets[1]], "bash", "-c", script));
        // The host's member sees what the guest sent, then answers with a frame the guest's can0 waits for.
        var seen = new List<CanFrame>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var idle = new SpinWait(); // backs off to sleeping: a spinning core would slow the emulated guest it waits for
        while (seen.Count < 4 && clock.Elapsed < GuestLimit && !guest.IsCompleted)
        {
            if (host.TryReceive(out CanFrame f)) seen.Add(f);
            else idle.SpinOnce();
        }
        var answer = new CanFrame { Id = 0x7AB, Length = 2 };
        answer.Payload[0] = 1;
        answer.Payload[1] = 2;
        host.Send(answer);
        VirtioVmHarness.GuestRun run = guest.Result;
        VirtioVmHarness.AssertGuestRan(run);
        string said = $"\nthe guest said:\n{run.Out}\n{run.Err}";
        Assert.That(run.Code, Is.Zero, said);
        Assert.That(run.Out, Does.Contain("CAN1 can1 123#DEADBEEF\n"), "can0 → AmpCan's bus → can1" + said);
        Assert.That(run.Out, Does.Contain("CAN1 can1 1FFFFFFF##4112233\n"), "a CAN FD frame (virtio-can has no BRS: it comes back without it)" + said);
        Assert.That(run.Out, Does.Contain("CAN1 can1 456#R3\n"), "a remote frame with its length" + said);
        Assert.That(run.Out, Does.Contain("CAN1 can1 321#01\n"), "after STOP and START" + said);
        Assert.That(run.Out, Does.Contain("CAN0 can0 7AB#0102\n"), "the host's frame reached the guest" + said);
        Assert.That(seen.Select(f => (f.Id, f.Kind)), Is.EqualTo(new[]
        {
            (0x123u, CanFrameKind.None), (0x1FFFFFFFu, CanFrameKind.Extended | CanFrameKind.Fd),
            (0x456u, CanFrameKind.Remote), (0x321u, CanFrameKind.None),
        }), "the host's member got the guest's frames, in order" + said);
        Assert.That(run.Out, Does.Contain("state ERROR-ACTIVE"), "the controller is healthy" + said);
        VirtioCanDevice can0 = _service.Instances[0].Device;
        Assert.That(can0.NegotiatedFeatures & (1UL << 3), Is.Not.Zero, "Linux's driver negotiated LATE_TX_ACK");
        Assert.That((can0.Unconfirmed, can0.StrayEchoes), Is.EqualTo((0, 0L)), "every transmit was answered from its echo, none twice");
        Assert.That(_logs.AtLeast(LogLevel.Error), Is.Empty);
    }

    [Test]
    public void TwoGuestsOnOneAmpCanBusHearEachOther()
    {
        // Each guest listens for the other's identifier, then keeps sending its own until it heard the other (and a few
        // times more, for the other guest's listener may have started after its first frames).
        static string Script(string mine, string theirs) => $"""
            modprobe virtio_can && ip link set can0 up || exit 2
            candump -L -n 1 -T 60000 can0,{theirs}:7FF >/tmp/heard.log & c=$!
            sleep 0.5
            for i in $(seq 200); do cansend can0 {mine}#C0FFEE || exit 3; kill -0 $c 2>/dev/null || break; sleep 0.2; done
            for i in 1 2 3 4 5; do cansend can0 {mine}#C0FFEE; sleep 0.2; done
            wait $c || exit 4
            sed 's/^([0-9.]*) /HEARD /' /tmp/heard.log
            """;
        Task<VirtioVmHarness.GuestRun> a = Task.Run(() => VirtioVmHarness.Run([], GuestLimit, ["--can", _sockets[0]], "bash", "-c", Script("111", "222")));
        Task<VirtioVmHarness.GuestRun> b = Task.Run(() => VirtioVmHarness.Run([], GuestLimit, ["--can", _sockets[1]], "bash", "-c", Script("222", "111")));
        foreach (var (run, heard) in new[] { (a.Result, "HEARD can0 222#C0FFEE"), (b.Result, "HEARD can0 111#C0FFEE") })
        {
            VirtioVmHarness.AssertGuestRan(run);
            Assert.That(run.Code, Is.Zero, $"the guest said:\n{run.Out}\n{run.Err}");
            Assert.That(run.Out, Does.Contain(heard), $"the guest said:\n{run.Out}\n{run.Err}");
        }
    }

    [Test]
    public void BusOffReachesTheGuestsDriverThroughAConfigChangeAndARestartRecovers()
    {
        VirtioCanDevice device = _service.Instances[0].Device;
        using VirtualCanPort host = _service.Bus.Attach("test");
        // The frame at 0x001 says the driver's START is complete: reporting bus-off as soon as the device took START
        // raced with the driver, which sets ERROR-ACTIVE only once START is answered, over a bus-off it had just read.
        string script = """
            modprobe virtio_can && ip link set can0 up || exit 2
            cansend can0 001#00 || exit 4
            s=
            for i in $(seq 150); do s=$(ip -details link show can0 | grep -o 'state BUS-OFF'); [ -n "$s" ] && break; sleep 0.2; done
            echo "SEEN ${s:-nothing}"
            ip link set can0 down && ip link set can0 up || exit 3
            ip -details link show can0 | grep -o 'state ERROR-ACTIVE'
            cansend can0 007#01 && echo SENT
            """;
        Task<VirtioVmHarness.GuestRun> guest = Task.Run(() => VirtioVmHarness.Run([], GuestLimit, ["--can", _sockets[0]], "bash", "-c", script));
        CanFrame up = default;
        // SpinUntil backs off to sleeping: a spinning core would slow the emulated guest it waits for.
        SpinWait.SpinUntil(() => guest.IsCompleted || (host.TryReceive(out up) && up.Id == 0x001), GuestLimit);
        Assert.That(up.Id, Is.EqualTo(0x001u), "the guest's can0 came up and sent its marker");
        device.ReportBusOff();
        VirtioVmHarness.GuestRun run = guest.Result;
        VirtioVmHarness.AssertGuestRan(run);
        string said = $"\nthe guest said:\n{run.Out}\n{run.Err}";
        Assert.That(run.Code, Is.Zero, said);
        Assert.That(run.Out, Does.Contain("SEEN state BUS-OFF"), "the driver read the status bit after the config-change interrupt" + said);
        Assert.That(run.Out, Does.Contain("state ERROR-ACTIVE"), "STOP and START recovered it" + said);
        Assert.That(run.Out, Does.Contain("SENT"), said);
    }
}
