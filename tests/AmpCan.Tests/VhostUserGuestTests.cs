using System.Text;
using System.Text.RegularExpressions;
using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.Host;

/// <summary>
/// AmpCan's rpmsg device (the remote's role, the same code a resource-table vdev runs) served over vhost-user to a QEMU
/// guest whose Linux kernel runs its own <c>virtio_rpmsg_bus</c>, <c>rpmsg_char</c>, <c>rpmsg_ctrl</c> and
/// <c>rpmsg_client_sample</c>: the proof of "byte-compatible with Linux" against Linux itself. One back end serves every
/// guest of the fixture, as a daemon would, never restarted between them.
/// </summary>
[TestFixture, Category("VirtioVm"), NonParallelizable]
public class VhostUserGuestTests
{
    private static readonly TimeSpan GuestLimit = TimeSpan.FromSeconds(150);
    private string _dir = null!;
    private string _socket = null!;
    private VhostUserRpmsgService _service = null!;
    private readonly CapturingLoggerFactory _logs = new();
    private int _activations;

    private VhostUserRpmsgService.Instance Served => _service.Instances[0];

    [OneTimeSetUp]
    public void StartTheBackEnd()
    {
        VirtioVmHarness.RequireGuest("Linux's rpmsg stack against AmpCan's vhost-user back end");
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan vhost {Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(_dir);
        _socket = Path.Combine(_dir, "rpmsg.sock");
        BoardDescriptor sim = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        _service = VhostUserRpmsgService.Start([_socket], SimulatedFirmware.For(sim), NotificationMode.Adaptive, _logs);
        Served.Device.Activated += _ => Interlocked.Increment(ref _activations);
    }

    [OneTimeTearDown]
    public void StopTheBackEnd()
    {
        _service?.Dispose();
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [TearDown]
    public void NothingWentWrongOnOurSide() =>
        Assert.That(_logs.AtLeast(LogLevel.Error), Is.Empty, "AmpCan logged errors while serving the guest");

    private VirtioVmHarness.GuestRun Guest(string script, params string[] options)
    {
        var run = VirtioVmHarness.Run([_socket], GuestLimit, options, "bash", "-c", script);
        VirtioVmHarness.AssertGuestRan(run);
        return run;
    }

    private static string Said(VirtioVmHarness.GuestRun run) => $"\nthe guest said:\n{run.Out}\n{run.Err}";

    [Test]
    public void TheRemotesChannelsAppearOnTheGuestsBusRpmsgRawGetsItsDeviceAndTheSampleClientCompletes()
    {
        var run = Guest("rpmsg-up.sh --expect rpmsg-echo --expect rpmsg-client-sample --expect rpmsg-raw --sample && kernel-clean.sh");
        Assert.That(run.Code, Is.Zero, Said(run));
        // virtio_rpmsg_bus names a channel VIRTIODEV.NAME.SRC.DST: src ANY (-1), dst the remote's endpoint address.
        foreach (var (name, address) in new[] { ("rpmsg-echo", 0x400), ("rpmsg-client-sample", 0x401), ("rpmsg-raw", 0x402) })
            Assert.That(run.Out, Does.Match($@"CHANNEL virtio\d+\.{Regex.Escape(name)}\.-1\.{address} name={Regex.Escape(name)} "), Said(run));
        Assert.That(run.Out, Does.Match(@"DEVICE virtio\d+ driver=virtio_rpmsg_bus features=0,28,29,32\n"),
            "the guest took NS, INDIRECT_DESC, EVENT_IDX and VERSION_1" + Said(run));
        Assert.That(run.Out, Does.Match(@"EPTDEV /dev/rpmsg\d+ name=rpmsg-raw src=\d+ dst=1026\n"), "rpmsg_char gave rpmsg-raw its /dev/rpmsgN" + Said(run));
        Assert.That(run.Out, Does.Match(@"SAMPLE virtio\d+\.rpmsg-client-sample\.-1\.1025 goodbye"), "rpmsg_client_sample said goodbye after its 100 messages" + Said(run));
        Assert.That(run.Out, Does.Contain("kernel-clean: no BUG"), Said(run));
    }

    [Test]
    public void EverySizeFrom1To496EchoesThroughRpmsgCtrlAndRpmsgChar()
    {
        var run = Guest("rpmsg-up.sh --expect rpmsg-echo && rpmsg_echo rpmsg-echo && kernel-clean.sh");
        Assert.That(run.Code, Is.Zero, Said(run));
        Assert.That(run.Out, Does.Contain("rpmsg_echo: PASS 496 replies intact, sizes 1..496"), Said(run));
    }

    [Test]
    public void AChannelTheGuestAnnouncesReachesAmpCanAndAmpCanAnswersOnIt()
    {
        var created = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        var destroyed = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        var greeting = new TaskCompletionSource<(string Text, uint From)>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnActivated(VirtioRpmsgRemote bus)
        {
            // An endpoint of AmpCan's remote at a fixed address, which the guest's program writes to; it answers the sender.
            bus.CreateEndpoint("host-peer", (in RpmsgReceivedMessage m) =>
            {
                string text = Encoding.ASCII.GetString(m.Payload);
                greeting.TrySetResult((text, m.Source));
                m.Endpoint.PostTo(m.Source, Encoding.ASCII.GetBytes("ACK " + text));
            }, address: 0x600);
            bus.ChannelCreated += c => { if (c.Name == "rpmsg_chrdev") created.TrySetResult(c); };
            // Removed while the bus still runs: the guest's destroy announcement, not the device stopping.
            bus.ChannelRemoved += c => { if (c.Name == "rpmsg_chrdev" && bus.State == RpmsgDeviceState.Ready) destroyed.TrySetResult(c); };
        }
        Served.Device.Activated += OnActivated;
        VirtioVmHarness.GuestRun run;
        try
        {
            run = Guest("rpmsg-up.sh --expect rpmsg-echo && rpmsg_dev rpmsg_chrdev 0x500 0x600 && kernel-clean.sh");
        }
        finally
        {
            Served.Device.Activated -= OnActivated;
        }
        Assert.That(run.Code, Is.Zero, Said(run));
        Assert.That(created.Task.IsCompletedSuccessfully, Is.True, "the guest's name-service announcement reached AmpCan's bus" + Said(run));
        Assert.That(created.Task.Result.RemoteAddress, Is.EqualTo(0x500u));
        Assert.That(greeting.Task.IsCompletedSuccessfully, Is.True, "the guest's message reached AmpCan's endpoint" + Said(run));
        Assert.That(greeting.Task.Result, Is.EqualTo(("hello from rpmsg_chrdev", 0x500u)));
        Assert.That(run.Out, Does.Contain("GOT ACK hello from rpmsg_chrdev\n"), "AmpCan's answer reached the guest's /dev/rpmsgN" + Said(run));
        Assert.That(run.Out, Does.Contain("RELEASED"), Said(run));
        Assert.That(destroyed.Task.IsCompletedSuccessfully, Is.True, "the guest's destroy announcement removed the channel" + Said(run));
    }

    [Test]
    public void ReloadingTheDriverRebootingTheGuestAndANewQemuLeaveAmpCanServing()
    {
        int before = Volatile.Read(ref _activations);
        long sessionsBefore = Served.Backend.SessionsEnded;
        string share = Path.Combine(_dir, $"share-{Guid.NewGuid():N}");
        Directory.CreateDirectory(share);
        string marker = Path.Combine(share, "booted");
        // Boot 1: echo, then unload the whole stack (rmmod virtio_rpmsg_bus: two SET_VRING_ENABLE 0 and GET_VRING_BASE, no
        // reset) and load it again (a full new start), echo again, then reboot the machine (its devices reset). Boot 2: echo.
        string script = $$"""
            if [ ! -e '{{marker}}' ]; then
              touch '{{marker}}'
              rpmsg-up.sh --expect rpmsg-echo && rpmsg_echo -s 1:32 rpmsg-echo || exit 1
              rmmod rpmsg_ctrl rpmsg_char virtio_rpmsg_bus || exit 1
              echo UNLOADED
              rpmsg-up.sh --expect rpmsg-echo && rpmsg_echo -s 1:32 rpmsg-echo || exit 1
              echo REBOOTING; sync; echo b > /proc/sysrq-trigger; sleep 60; exit 1
            fi
            echo SECOND-BOOT
            rpmsg-up.sh --expect rpmsg-echo && rpmsg_echo rpmsg-echo && kernel-clean.sh
            """;
        var run = Guest(script, "--allow-reboot", "--share", share);
        Assert.That(run.Code, Is.Zero, Said(run));
        Assert.That(run.Out, Does.Contain("SECOND-BOOT"), Said(run));
        Assert.That(run.Out, Does.Contain("rpmsg_echo: PASS 496 replies intact"), Said(run));
        Assert.That(Volatile.Read(ref _activations) - before, Is.EqualTo(3), "activated at boot, after the reload and after the reboot");
        Assert.That(Served.Backend.SessionsEnded, Is.EqualTo(sessionsBefore + 1), "one QEMU, one session, through the reload and the reboot");

        // A new QEMU after that one exited: served by the same back end.
        var again = Guest("rpmsg-up.sh --expect rpmsg-echo && rpmsg_echo -s 1:64 rpmsg-echo");
        Assert.That(again.Code, Is.Zero, Said(again));
        Assert.That(again.Out, Does.Contain("rpmsg_echo: PASS 64 replies intact"), Said(again));
        Assert.That(Served.Backend.SessionsEnded, Is.EqualTo(sessionsBefore + 2));
    }
}
