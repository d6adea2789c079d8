using System.Diagnostics;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Boards;
using AmpCan.Simulation;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.Host;

/// <summary>
/// The simulated board's CAN controller end to end: the simulated remote's virtio-can driver and node on one side of a
/// resource-table vdev, AmpCan's device on the other, the board's paced in-process bus behind it, a test member on it.
/// </summary>
[NonParallelizable]
public class BoardCanTests
{
    private static BoardDescriptor Sim(string name, CanSpec? can = null)
    {
        BoardDescriptor b = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        return b with { Name = name, Can = can ?? b.Can };
    }

    private static CanFrame Take(ICanPort port, Func<CanFrame, bool> wanted, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            if (port.TryReceive(out CanFrame f) && wanted(f)) return f;
            if (port.Pending == 0) Thread.Yield();
        }
        throw new AssertionException($"not within 15 s: {what}");
    }

    [Test]
    public void TheSimulatedRemotesNodeBeatsAndAnswersOnTheBoardsBus()
    {
        using BoardHost host = BoardHost.Start(Sim("sim-can-test"), new BoardHostOptions { Remote = RemoteKind.Simulated });
        Assert.That(host.Can.Controllers.Select(c => c.Spec.Name), Is.EqualTo(new[] { "can0" }));
        VirtualCanBus bus = host.Can.Buses["sim-can"];
        Assert.That((bus.Bitrate, bus.DataBitrate), Is.EqualTo((500000, 2000000)), "paced as the board says");
        using VirtualCanPort member = bus.Attach("test");
        CanFrame beat = Take(member, f => f.Id == SimulatedCanNode.HeartbeatBase + 1, "the remote's heartbeat at 0x701");
        Assert.That(beat.Length, Is.EqualTo(1));

        var question = new CanFrame { Id = 0x120, Length = 3 };
        new byte[] { 1, 2, 3 }.CopyTo(question.Payload);
        Assert.That(member.Send(question), Is.EqualTo(CanSendResult.Sent));
        CanFrame answer = Take(member, f => f.Id == 0x121, "the remote's answer at 0x121");
        Assert.That(answer.Payload.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));

        var fd = new CanFrame { Id = 0x1ABCDE0, Kind = CanFrameKind.Extended | CanFrameKind.Fd, Length = 64 };
        for (int i = 0; i < 64; i++) fd.Payload[i] = (byte)i;
        member.Send(fd);
        CanFrame fdAnswer = Take(member, f => f.Id == 0x1ABCDE1, "the answer to an FD frame");
        Assert.That((fdAnswer.Kind, fdAnswer.Payload.ToArray()), Is.EqualTo((CanFrameKind.Extended | CanFrameKind.Fd, fd.Payload.ToArray())));
        VirtioCanDevice device = host.Can.Controllers[0].Device;
        Assert.That(device.NegotiatedFeatures & 0xF, Is.EqualTo(0xFUL), "classic, FD, RTR and LATE_TX_ACK negotiated by the remote's driver");
        Assert.That((device.Rejected, device.StrayEchoes), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public void ABusOffReachesTheRemoteWhichRestartsItsController()
    {
        using BoardHost host = BoardHost.Start(Sim("sim-can-busoff"), new BoardHostOptions { Remote = RemoteKind.Simulated });
        VirtioCanDevice device = host.Can.Controllers[0].Device;
        SimulatedCanNode node = host.SimulatedRemote!.CanNodes[0];
        Assert.That(node.Started.Wait(TimeSpan.FromSeconds(15)), Is.True, "the remote started its controller");
        device.ReportBusOff();
        var clock = Stopwatch.StartNew();
        while (node.Restarts == 0 && clock.Elapsed < TimeSpan.FromSeconds(15)) Thread.Sleep(1);
        Assert.That(node.Restarts, Is.EqualTo(1), "the remote's driver saw bus-off in the table's config and its node sent START again");
        Assert.That(device.IsStarted, Is.True);
    }

    [Test]
    public void AControllerWithALogWritesWhatCrossesTheBusAsCandumpLines()
    {
        string log = Path.Combine(Path.GetTempPath(), $"ampcan-can-{Guid.NewGuid():N}.log");
        try
        {
            var can = new CanSpec
            {
                Controllers = [new CanControllerSpec { Name = "can0", Bus = "logged", Log = log }],
            };
            using (BoardHost host = BoardHost.Start(Sim("sim-can-log", can), new BoardHostOptions { Remote = RemoteKind.Simulated }))
            {
                using VirtualCanPort member = host.Can.Buses["logged"].Attach("test");
                member.Send(new CanFrame { Id = 0x42, Length = 1 });
                Take(member, f => f.Id == 0x43, "the answer");
                // The node's first beat may come after its answer (it beats once a second): the log must hold one.
                Take(member, f => f.Id == 0x701, "a heartbeat");
            }
            string[] lines = File.ReadAllLines(log);
            Assert.That(lines, Has.Some.Match(@"^\(\d+\.\d{6}\) logged 042#00$"), string.Join("\n", lines));
            Assert.That(lines, Has.Some.Match(@"^\(\d+\.\d{6}\) logged 043#00$"));
            Assert.That(lines, Has.Some.Match(@"^\(\d+\.\d{6}\) logged 701#[0-9A-F]{2}$"), "the heartbeat");
        }
        finally
        {
            File.Delete(log);
        }
    }
}
