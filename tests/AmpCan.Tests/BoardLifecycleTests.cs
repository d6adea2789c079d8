using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.Rpmsg;
using AmpCan.Simulation;

namespace AmpCan.Tests.Host;

/// <summary>
/// Crash and recovery of the sim board's remote, served by <see cref="BoardSession"/>s under a
/// <see cref="RemoteCoreLifecycle"/>: a crash is seen (a DEVICE_NEEDS_RESET status, a stalled transmit ring, the
/// remote's process gone), the session is torn down so that its clients get errors instead of hanging, the remote is
/// booted again and its channels come back through the name service.
/// </summary>
[NonParallelizable]
public class BoardLifecycleTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static string BoardPath => Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json");

    private sealed class Core : IDisposable
    {
        public readonly BlockingCollection<RemoteCoreState> States = [];
        public readonly RemoteCoreLifecycle Lifecycle;

        public Core(BoardHostOptions host, BoardSessionOptions? session = null, Func<BoardDescriptor, BoardDescriptor>? change = null)
        {
            BoardDescriptor board = BoardDescriptor.Load(BoardPath);
            if (change is not null) board = change(board);
            Lifecycle = BoardLifecycle.Create(board, host, session);
            Lifecycle.StateChanged += States.Add;
        }

        public BoardHost Host => ((BoardSession)Lifecycle.Session!).Host;

        public void Expect(RemoteCoreState state, string what)
        {
            Assert.That(States.TryTake(out RemoteCoreState s, Patience), Is.True, $"no state change within {Patience}: {what}");
            Assert.That(s, Is.EqualTo(state), what);
        }

        public void Dispose() => Lifecycle.Dispose();
    }

    private static RpmsgEndpoint EchoClient(BoardHost host)
    {
        var clock = Stopwatch.StartNew();
        RpmsgChannel? echo;
        while ((echo = host.Rpmsg.Channels.FirstOrDefault(c => c.Name == "rpmsg-echo")) is null)
        {
            if (clock.Elapsed > Patience) throw new AssertionException("the echo channel was not announced");
            Thread.Yield();
        }
        return host.Rpmsg.CreateEndpoint("client", null, destination: echo.RemoteAddress);
    }

    private static void AssertEchoes(BoardHost host)
    {
        using RpmsgEndpoint ep = EchoClient(host);
        byte[] msg = Encoding.ASCII.GetBytes("after recovery");
        ep.Send(msg);
        using RpmsgMessage m = ep.Receive(Patience);
        Assert.That(m.Payload.ToArray(), Is.EqualTo(msg));
    }

    [Test]
    public void ARemoteThatMarksItsDeviceNeedsResetIsRecoveredAndItsChannelsComeBack()
    {
        using var core = new Core(new BoardHostOptions { Remote = RemoteKind.Simulated });
        core.Lifecycle.Start();
        core.Expect(RemoteCoreState.Running, "start");
        BoardHost first = core.Host;
        RpmsgEndpoint old = EchoClient(first);

        first.SimulatedRemote!.Crash(SimulatedCrash.Fault);
        core.Expect(RemoteCoreState.Crashed, "the status seen");
        core.Expect(RemoteCoreState.Running, "recovered");
        Assert.That(core.Lifecycle.LastCrash, Is.EqualTo("vdev 0 (virtio id 7) status 0x4f: DEVICE_NEEDS_RESET"));
        Assert.That(() => old.Send("to the old session"u8, TimeSpan.FromSeconds(5)), Throws.InstanceOf<Exception>(),
            "a client of the crashed session gets an error, not a hang");
        Assert.That(core.Host, Is.Not.SameAs(first));
        AssertEchoes(core.Host);
        TestContext.Progress.WriteLine($"recovered {core.Lifecycle.LastRecoveryTime!.Value.TotalMilliseconds:F0} ms after the crash was seen");
    }

    [Test]
    public void ARemoteThatHangsIsSeenByItsStalledTransmitRingWhenItHasWork()
    {
        using var core = new Core(new BoardHostOptions { Remote = RemoteKind.Simulated }, new BoardSessionOptions { StallPeriod = TimeSpan.FromMilliseconds(300) });
        core.Lifecycle.Start();
        core.Expect(RemoteCoreState.Running, "start");
        using RpmsgEndpoint ep = EchoClient(core.Host);
        core.Host.SimulatedRemote!.Crash(SimulatedCrash.Hang);
        ep.Send("nobody will take this"u8);
        core.Expect(RemoteCoreState.Crashed, "the stalled ring seen");
        Assert.That(core.Lifecycle.LastCrash, Does.StartWith("the rpmsg transmit ring: 1 buffers pending and none used for"));
        core.Expect(RemoteCoreState.Running, "recovered");
        AssertEchoes(core.Host);
    }

    [Test]
    public void ARemoteThatHangsIdleIsSeenByItsStoppedHeartbeat()
    {
        using var core = new Core(new BoardHostOptions { Remote = RemoteKind.Simulated }, change: b => b with { Core = b.EffectiveCore with { WatchdogMs = 300 } });
        core.Lifecycle.Start();
        core.Expect(RemoteCoreState.Running, "start");
        core.Host.SimulatedRemote!.Crash(SimulatedCrash.Hang); // no work pending: only the heartbeat can tell
        core.Expect(RemoteCoreState.Crashed, "the stopped heartbeat seen");
        Assert.That(core.Lifecycle.LastCrash, Does.StartWith("watchdog: the heartbeat at 0x30002000 (core.heartbeat) has not changed for"));
        core.Expect(RemoteCoreState.Running, "recovered");
        AssertEchoes(core.Host);
    }

    [Test]
    public void WithRecoveryDisabledACrashLeavesACoredumpReadelfReadsAndTheCoreCrashed()
    {
        string dumps = Directory.CreateTempSubdirectory("ampcan-dumps-").FullName;
        try
        {
            using var core = new Core(new BoardHostOptions { Remote = RemoteKind.Simulated }, change: b => b with
            {
                Core = b.EffectiveCore with
                {
                    Recovery = RecoveryPolicy.Disabled,
                    Coredump = new CoredumpSpec { Mode = AmpCan.Remoteproc.Firmware.CoredumpMode.Enabled, Directory = dumps, MaxFiles = 2 },
                },
            });
            core.Lifecycle.Start();
            core.Expect(RemoteCoreState.Running, "start");
            core.Host.SimulatedRemote!.Crash(SimulatedCrash.Fault);
            core.Expect(RemoteCoreState.Crashed, "the crash seen");
            Assert.That(core.States.TryTake(out _, TimeSpan.FromMilliseconds(500)), Is.False, "recovery disabled: it stays crashed");
            string dump = Directory.GetFiles(dumps, "*.core").Single();
            var (code, output, error) = KernelVmHarness.Run("readelf", ["-h", "-l", "-W", dump], TimeSpan.FromSeconds(30));
            Assert.That((code, error), Is.EqualTo((0, "")), output);
            Assert.That(output, Does.Contain("CORE (Core file)").And.Match(@"LOAD\s+0x[0-9a-f]+ 0x0*30000000 0x0*30000000 0x100000 0x100000 RWE"),
                "one PT_LOAD: the sim board's 1 MiB of shared memory at its device address");
            core.Lifecycle.Recover();
            core.Expect(RemoteCoreState.Running, "recovered by hand");
            AssertEchoes(core.Host);
        }
        finally
        {
            Directory.Delete(dumps, recursive: true);
        }
    }

    [Test]
    public void OnATwoCoreBoardOneCoreCrashingCostsTheOtherNothing()
    {
        BoardFile file = BoardFile.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim-two-cores.json"));
        Assert.That(file.Cores.Select(c => c.Name), Is.EqualTo(new[] { "sim-two-cores/m4", "sim-two-cores/r5" }));
        var states = file.Cores.Select(_ => new BlockingCollection<RemoteCoreState>()).ToArray();
        var cores = file.Cores.Select(c => BoardLifecycle.Create(c, new BoardHostOptions { Remote = RemoteKind.Simulated })).ToArray();
        try
        {
            for (int i = 0; i < cores.Length; i++)
            {
                cores[i].StateChanged += states[i].Add;
                cores[i].Start();
            }
            BoardHost m4 = ((BoardSession)cores[0].Session!).Host, r5 = ((BoardSession)cores[1].Session!).Host;
            using RpmsgEndpoint r5Client = EchoClient(r5);
            m4.SimulatedRemote!.Crash(SimulatedCrash.Fault);
            Assert.That(states[0].TryTake(out _, Patience) && states[0].TryTake(out RemoteCoreState s, Patience) && s == RemoteCoreState.Crashed, Is.True, "m4 crashed");
            for (int i = 0; i < 50; i++)
            {
                r5Client.Send("r5 carries on"u8);
                using RpmsgMessage m = r5Client.Receive(Patience);
            }
            Assert.That(cores[1].State, Is.EqualTo(RemoteCoreState.Running));
            Assert.That(cores[1].Crashes, Is.Zero, "r5 never noticed");
            Assert.That(states[0].TryTake(out RemoteCoreState back, Patience) && back == RemoteCoreState.Running, Is.True, "m4 recovered on its own");
            AssertEchoes(((BoardSession)cores[0].Session!).Host);
        }
        finally
        {
            foreach (RemoteCoreLifecycle c in cores) c.Dispose();
        }
    }

    [Test]
    public void TheRemotesTraceGoesToItsFileUpToItsLastWordsAndAmpcanTracePrintsIt()
    {
        string dir = Directory.CreateTempSubdirectory("ampcan-trace-").FullName;
        try
        {
            using var core = new Core(new BoardHostOptions { Remote = RemoteKind.Simulated }, new BoardSessionOptions { TraceDirectory = dir },
                change: b => b with { Core = b.EffectiveCore with { Recovery = RecoveryPolicy.Disabled } });
            core.Lifecycle.Start();
            core.Expect(RemoteCoreState.Running, "start");
            string file = AmpCan.Remoteproc.Trace.TraceFileNames.PathFor(dir, "sim", "remote-sim");
            Assert.That(SpinWait.SpinUntil(() => File.Exists(file) && File.ReadAllText(file).Contains("remote-sim: rpmsg up, services announced"), Patience), Is.True,
                "the firmware's boot lines reached the trace file");
            core.Host.SimulatedRemote!.Crash(SimulatedCrash.Fault);
            core.Expect(RemoteCoreState.Crashed, "the crash seen");
            // Crashed is announced before the session is torn down; the trace's last read is part of the teardown.
            Assert.That(SpinWait.SpinUntil(() => File.ReadAllText(file).Contains("remote-sim: fatal error (Fault), halting"), Patience), Is.True,
                "its last words, read before the memory went");

            var (code, output, error) = CommandLineTests.RunWithOutput(["trace", "--board", "sim", "--directory", dir]);
            Assert.That(code, Is.Zero, error);
            Assert.That(output, Does.Contain("remote-sim: boot").And.Contain("remote-sim: fatal error (Fault), halting"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void ARemoteProcessThatDiesIsRecoveredInANewProcess()
    {
        using var core = new Core(new BoardHostOptions { Remote = RemoteKind.SimulatedProcess, BoardPath = BoardPath, AmpcanPath = CrossProcessVringTests.AmpcanDll });
        core.Lifecycle.Start();
        core.Expect(RemoteCoreState.Running, "start");
        int pid = core.Host.RemoteProcess!.ProcessId;
        core.Host.RemoteProcess.Kill();
        core.Expect(RemoteCoreState.Crashed, "the exit seen");
        Assert.That(core.Lifecycle.LastCrash, Does.StartWith("the remote process exited"));
        core.Expect(RemoteCoreState.Running, "recovered");
        Assert.That(core.Host.RemoteProcess!.ProcessId, Is.Not.EqualTo(pid));
        AssertEchoes(core.Host);
    }
}
