using System.Diagnostics;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Boards;
using AmpCan.Simulation;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.Host;

/// <summary>
/// The reverse topology on the simulated board: the remote owns the CAN controller and serves it as a virtio-can device
/// (on a bus of its own, standing for its wire, with a simulated ECU there); AmpCan is the driver, keeps the controller
/// started and bridges it onto the board's in-process bus, where a test member plays a Linux program.
/// </summary>
[NonParallelizable]
public class BoardRemoteCanTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private static BoardDescriptor Sim(string name, params CanControllerSpec[] controllers)
    {
        BoardDescriptor b = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        return b with { Name = name, Can = new CanSpec { Controllers = controllers } };
    }

    // The sim board's firmware puts controller i's vrings at 0x60000 + 0x20000 i; 0xC0000 is free on a board of two.
    private static CanControllerSpec RemoteOwned(string name, string bus, ulong bufferOffset = 0xC0000, int? restartMs = null, string? log = null) =>
        new() { Name = name, Owner = CanControllerOwner.Remote, Bus = bus, BufferOffset = bufferOffset, RestartMs = restartMs, Log = log };

    private static BoardHost Start(BoardDescriptor board, CapturingLoggerFactory? logs = null) =>
        BoardHost.Start(board, new BoardHostOptions { Remote = RemoteKind.Simulated, Loggers = logs });

    private static CanFrame Frame(uint id, params byte[] data)
    {
        var f = new CanFrame { Id = id, Length = (byte)data.Length };
        data.CopyTo(f.Payload);
        return f;
    }

    private static CanFrame Take(ICanPort port, Func<CanFrame, bool> wanted, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Patience)
        {
            if (port.TryReceive(out CanFrame f) && wanted(f)) return f;
            if (port.Pending == 0) Thread.Yield();
        }
        throw new AssertionException($"not within {Patience.TotalSeconds} s: {what}");
    }

    private static void Until(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Patience) throw new AssertionException($"not within {Patience.TotalSeconds} s: {what}");
            Thread.Yield();
        }
    }

    // The driven controller and the remote's side of it, once AmpCan's keeper has the controller started.
    private static (BoardCanControllers.DrivenController Host, SimulatedCanController Remote) Started(BoardHost host, int driven, int tableIndex)
    {
        BoardCanControllers.DrivenController c = host.Can.Driven[driven];
        Assert.That(c.Keeper.Started.Wait(Patience) && c.Keeper.Started.Result, Is.True, "AmpCan started the remote's controller");
        SimulatedCanController remote = host.SimulatedRemote!.CanControllers[tableIndex];
        Assert.That((remote.Owner, remote.Device!.IsStarted), Is.EqualTo((CanControllerOwner.Remote, true)), "the remote's device saw START");
        return (c, remote);
    }

    [Test]
    public void AFrameOnTheBoardsBusReachesTheRemotesEcuAndItsAnswerComesBack()
    {
        using BoardHost host = Start(Sim("sim-rcan", RemoteOwned("can0", "field")));
        Assert.That((host.Can.Controllers.Count, host.Can.Driven.Count), Is.EqualTo((0, 1)), "one controller, driven, none served");
        var (driven, remote) = Started(host, 0, 0);
        using VirtualCanPort member = host.Can.Buses["field"].Attach("test");

        CanFrame beat = Take(member, f => f.Id == SimulatedCanNode.HeartbeatBase + 1, "the remote's ECU's heartbeat at 0x701");
        Assert.That(beat.Length, Is.EqualTo(1));

        Assert.That(member.Send(Frame(0x120, 1, 2, 3)), Is.EqualTo(CanSendResult.Sent));
        CanFrame answer = Take(member, f => f.Id == 0x121, "the ECU's answer at 0x121");
        Assert.That(answer.Payload.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));

        var fd = new CanFrame { Id = 0x1ABCDE0, Kind = CanFrameKind.Extended | CanFrameKind.Fd, Length = 64 };
        for (int i = 0; i < 64; i++) fd.Payload[i] = (byte)(255 - i);
        member.Send(fd);
        CanFrame fdAnswer = Take(member, f => f.Id == 0x1ABCDE1, "the answer to an FD frame");
        Assert.That((fdAnswer.Kind, fdAnswer.Payload.ToArray()), Is.EqualTo((CanFrameKind.Extended | CanFrameKind.Fd, fd.Payload.ToArray())));

        Assert.That(remote.Device!.NegotiatedFeatures & 0xF, Is.EqualTo(0xFUL), "classic, FD, RTR and LATE_TX_ACK negotiated by AmpCan's driver");
        Assert.That(remote.Node.Answered, Is.GreaterThanOrEqualTo(2), "the answers are the ECU's, on the remote's own bus");
        Assert.That((remote.Device.Rejected, driven.Driver.Counters.MalformedReceives, driven.Bridge.Dropped), Is.EqualTo((0L, 0L, 0L)));
    }

    [Test]
    public void ABusOffTheRemoteReportsReachesAmpCansDriverWhichRestartsTheController()
    {
        using BoardHost host = Start(Sim("sim-rcan-busoff", RemoteOwned("can0", "field", restartMs: 20)));
        var (driven, remote) = Started(host, 0, 0);
        remote.Device!.ReportBusOff();
        Until(() => driven.Keeper.Restarts == 1, "AmpCan started the controller again");
        Assert.That((driven.Driver.Counters.BusOffs, driven.Keeper.BusOffs), Is.EqualTo((1L, 1L)), "the driver read BUSOFF and queued its error frame, which the bridge took through the keeper");
        Assert.That((remote.Device.IsStarted, driven.Driver.IsStarted), Is.EqualTo((true, true)));

        using VirtualCanPort member = host.Can.Buses["field"].Attach("test");
        member.Send(Frame(0x130, 7));
        Assert.That(Take(member, f => f.Id == 0x131, "an answer after the restart").Data[0], Is.EqualTo(7));
    }

    [Test]
    public void WithRestartMsZeroTheControllerStaysStoppedAfterBusOff()
    {
        var logs = new CapturingLoggerFactory();
        using BoardHost host = Start(Sim("sim-rcan-off", RemoteOwned("can0", "field", restartMs: 0)), logs);
        var (driven, remote) = Started(host, 0, 0);
        remote.Device!.ReportBusOff();
        // The keeper's decision, said once it took the bus-off: after it, nothing would start the controller again.
        Until(() => logs.AtLeast(LogLevel.Warning).Any(l => l.StartsWith("can0: ", StringComparison.Ordinal) && l.EndsWith("; the controller stays stopped", StringComparison.Ordinal)), "AmpCan's keeper decided to leave it stopped");
        using VirtualCanPort member = host.Can.Buses["field"].Attach("test");
        member.Send(Frame(0x140));
        Until(() => driven.Bridge.Dropped == 1, "the bridge found the controller down and dropped the frame");
        Assert.That((driven.Keeper.BusOffs, driven.Keeper.Restarts, driven.Driver.IsStarted, remote.Device.IsStarted), Is.EqualTo((1L, 0L, false, false)), "nobody started it again");
    }

    [Test]
    public void ABoardWithAHostOwnedAndARemoteOwnedControllerRunsBoth()
    {
        using BoardHost host = Start(Sim("sim-rcan-both", new CanControllerSpec { Name = "can0", Bus = "sim-can" }, RemoteOwned("can1", "field")));
        Assert.That((host.Can.Controllers.Single().Spec.Name, host.Can.Driven.Single().Spec.Name), Is.EqualTo(("can0", "can1")));
        Started(host, 0, 1);
        Assert.That(host.SimulatedRemote!.CanControllers[0].Owner, Is.EqualTo(CanControllerOwner.Host));

        using VirtualCanPort served = host.Can.Buses["sim-can"].Attach("test");
        using VirtualCanPort driven = host.Can.Buses["field"].Attach("test");
        Take(served, f => f.Id == 0x701, "the heartbeat of the remote's node on AmpCan's controller (node 1)");
        Take(driven, f => f.Id == 0x702, "the heartbeat of the ECU on the remote's controller (node 2)");
        served.Send(Frame(0x100, 1));
        driven.Send(Frame(0x200, 2));
        Assert.That(Take(served, f => f.Id == 0x101, "the answer through AmpCan's device").Data[0], Is.EqualTo(1));
        Assert.That(Take(driven, f => f.Id == 0x201, "the answer through AmpCan's driver").Data[0], Is.EqualTo(2));
    }

    [Test]
    public void TheLogHoldsWhatCrossesUnderWhereItCameFrom()
    {
        string log = Path.Combine(Path.GetTempPath(), $"ampcan-rcan-{Guid.NewGuid():N}.log");
        try
        {
            using (BoardHost host = Start(Sim("sim-rcan-log", RemoteOwned("can0", "field", log: log))))
            {
                Started(host, 0, 0);
                using VirtualCanPort member = host.Can.Buses["field"].Attach("test");
                member.Send(Frame(0x42));
                Take(member, f => f.Id == 0x43, "the answer");
                Take(member, f => f.Id == 0x701, "a heartbeat");
            }
            string[] lines = File.ReadAllLines(log);
            Assert.That(lines, Has.Some.Match(@"^\(\d+\.\d{6}\) field 042#$"), "sent to the remote: under the bus it came from\n" + string.Join("\n", lines));
            Assert.That(lines, Has.Some.Match(@"^\(\d+\.\d{6}\) can0 043#$"), "from the remote: under the controller");
            Assert.That(lines, Has.Some.Match(@"^\(\d+\.\d{6}\) can0 701#[0-9A-F]{2}$"), "the ECU's heartbeat");
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Test]
    public void ARemoteInItsOwnProcessServesTheControllerTheBoardFileGivesIt()
    {
        // The remote process reads the same board file, and from it which controllers it owns.
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-rcan-{Guid.NewGuid():N}.json");
        string sim = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        string can = """
            "can": { "controllers": [ { "name": "can0", "owner": "remote", "bus": "field", "bufferOffset": "0xC0000" } ] }
            }
            """;
        File.WriteAllText(path, sim[..sim.IndexOf("\"can\"", StringComparison.Ordinal)].Replace("\"name\": \"sim\"", "\"name\": \"sim-rcan-proc\"", StringComparison.Ordinal) + can);
        try
        {
            using BoardHost host = BoardHost.Start(BoardDescriptor.Load(path), new BoardHostOptions
            {
                Remote = RemoteKind.SimulatedProcess, BoardPath = path, AmpcanPath = CrossProcessVringTests.AmpcanDll,
            });
            Assert.That(host.RemoteProcess, Is.Not.Null);
            BoardCanControllers.DrivenController driven = host.Can.Driven.Single();
            Assert.That(driven.Keeper.Started.Wait(Patience) && driven.Keeper.Started.Result, Is.True, "the remote process's device answered START");
            using VirtualCanPort member = host.Can.Buses["field"].Attach("test");
            member.Send(Frame(0x150, 9));
            Assert.That(Take(member, f => f.Id == 0x151, "the answer of the ECU in the remote process").Data[0], Is.EqualTo(9));
            Take(member, f => f.Id == 0x701, "its heartbeat");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestCase(0x60000UL, "can.controllers[0].bufferOffset: can0's driver buffers [0x30060000, 0x3006a810) overlaps vdev 1 (id 36) vring 0 [0x30060000, 0x30062806)")]
    [TestCase(0xF8000UL, "can.controllers[0].bufferOffset: can0's driver buffers [0x300f8000, 0x30102810) is not inside the shared memory [0x30000000, 0x30100000)")]
    public void DriverBuffersOverAnotherAreaAreRefusedNamingBoth(ulong bufferOffset, string expected)
    {
        var e = Assert.Throws<BoardException>(() => Start(Sim("sim-rcan-layout", RemoteOwned("can0", "field", bufferOffset))).Dispose());
        Assert.That(e!.Message, Is.EqualTo($"board 'sim-rcan-layout': {expected}"));
    }
}
