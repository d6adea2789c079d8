using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.Rpmsg;
using AmpCan.SharedMem;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;

namespace AmpCan.Tests.Host;

/// <summary>
/// Attach and detach of a remote that runs on its own (an <c>ampcan remote-sim</c> process on a /dev/shm file, as a
/// core a bootloader started): the host takes it over without resetting it, leaves it running, and the next host takes
/// it over where the rings stood; a service killed outright is replaced by one that takes the remote over too.
/// </summary>
[NonParallelizable]
[CancelAfter(120_000)]
public class BoardAttachTests
{
    private const int Rounds = 300; // more than the 256-entry rings: every buffer and descriptor is reused
    private string _dir = null!;
    private string _shm = null!;
    private string _board = null!;

    [SetUp]
    public void CreateBoard()
    {
        _dir = Directory.CreateTempSubdirectory("ampcan-attach-").FullName;
        _shm = $"/dev/shm/ampcan-attach-{Guid.NewGuid().ToString("N")[..10]}";
        _board = Path.Combine(_dir, "board.json");
        File.WriteAllText(_board, $$"""
            { "name": "attach", "sharedMemory": { "kind": "file", "path": "{{_shm}}", "size": "0x80000" },
              "rpmsg": { "bufferPoolOffset": "0x10000" }, "doorbell": { "kind": "polling" },
              "notification": { "mode": "polling" },
              "remote": { "kind": "external", "services": { "echo": "rpmsg-echo", "clientSample": "rpmsg-client-sample" }, "startTimeoutSeconds": 30 },
              "can": { "controllers": [ { "name": "can0", "bus": "attach-can" } ], "buses": [ { "name": "attach-can", "bitrate": 500000 } ] } }
            """);
    }

    [TearDown]
    public void RemoveBoard()
    {
        foreach (string f in new[] { _shm, _shm + ".host.lock", _shm + ".remote.lock" }) File.Delete(f);
        Directory.Delete(_dir, true);
    }

    // A driver of the remote's echo service: its endpoint on the channel's address, echoes collected.
    private sealed class EchoClient
    {
        private readonly BlockingCollection<string> _received = [];
        public RpmsgEndpoint? Endpoint;

        public void Bind(VirtioRpmsgHost bus) => bus.RegisterDriver("rpmsg-echo", ch =>
            Endpoint = bus.CreateEndpoint(ch, (in RpmsgReceivedMessage m) => _received.Add(Encoding.ASCII.GetString(m.Payload))));

        public void RoundTrips(int n, string tag)
        {
            Assert.That(SpinWait.SpinUntil(() => Endpoint is not null, TimeSpan.FromSeconds(30)), Is.True, "the echo channel was bound");
            for (int i = 0; i < n; i++)
            {
                Endpoint!.Send(Encoding.ASCII.GetBytes($"{tag}-{i}"), TimeSpan.FromSeconds(10));
                Assert.That(_received.TryTake(out string? echo, TimeSpan.FromSeconds(10)), Is.True, $"echo of {tag}-{i}");
                Assert.That(echo, Is.EqualTo($"{tag}-{i}"));
            }
        }
    }

    private static void Expect(BlockingCollection<RemoteCoreState> states, RemoteCoreState state)
    {
        Assert.That(states.TryTake(out RemoteCoreState s, TimeSpan.FromSeconds(60)), Is.True, $"no state change to {state}");
        Assert.That(s, Is.EqualTo(state));
    }

    // The remote's CAN node answers an even identifier X with X + 1, through the virtio-can device the host serves it.
    private static void CanRoundTrip(BoardHost host, uint id)
    {
        using VirtualCanPort member = host.Can.Buses["attach-can"].Attach("test");
        var question = new CanFrame { Id = id, Length = 2 };
        question.Payload[0] = 0xA5;
        Assert.That(member.Send(question), Is.EqualTo(CanSendResult.Sent));
        var clock = Stopwatch.StartNew();
        while (!(member.TryReceive(out CanFrame f) && f.Id == id + 1))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) Assert.Fail($"no answer at 0x{id + 1:x} from the remote's CAN node");
            if (member.Pending == 0) Thread.Yield();
        }
    }

    private static int Count(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;

    [Test]
    public void A_detached_remote_runs_on_and_the_next_host_takes_it_over_where_the_rings_stood()
    {
        using var remote = new RemoteSimProcess(_board);
        BoardDescriptor board = BoardDescriptor.Load(_board);
        EchoClient client = new();
        var host = new BoardHostOptions { BoardPath = _board, StateDirectory = _dir, BindRpmsg = bus => client.Bind(bus) };
        using RemoteCoreLifecycle core = BoardLifecycle.Create(board, host);
        var states = new BlockingCollection<RemoteCoreState>();
        core.StateChanged += states.Add;

        core.Attach();
        Expect(states, RemoteCoreState.Attached);
        BoardHost first = ((BoardSession)core.Session!).Host;
        Assert.That(first.TakenOver, Is.False, "a remote no host drove yet is brought up as usual");
        client.RoundTrips(Rounds, "first");
        CanRoundTrip(first, 0x120);
        uint address = client.Endpoint!.Address;

        core.Detach();
        Expect(states, RemoteCoreState.Detached);
        string record = File.ReadAllText(Path.Combine(_dir, "attach.attach.json"));
        Assert.That(record, Does.Contain("\"OutstandingHeads\"").And.Contain("rpmsg-echo"), "the rings and channels were recorded");
        Assert.That(remote.Process.HasExited, Is.False, "the remote runs on");

        client = new EchoClient();
        core.Start(); // from detached: attach again
        Expect(states, RemoteCoreState.Attached);
        BoardHost second = ((BoardSession)core.Session!).Host;
        Assert.That(second.TakenOver, Is.True, "the second host took the running device over");
        client.RoundTrips(Rounds, "second");
        CanRoundTrip(second, 0x140); // the CAN device the remote drives was taken over too
        Assert.Multiple(() =>
        {
            Assert.That(client.Endpoint!.Address, Is.EqualTo(address), "the channel's endpoint is back where the remote's is bound");
            Assert.That(Count(remote.Output, "host set DRIVER_OK"), Is.EqualTo(1), $"the remote never reset:\n{remote.Output}");
            Assert.That(remote.Output, Does.Not.Contain("broke the protocol"));
            Assert.That(remote.Process.HasExited, Is.False);
        });
    }

    [Test]
    public void A_service_killed_outright_is_replaced_by_one_that_takes_the_remote_over()
    {
        using var remote = new RemoteSimProcess(_board);
        var env = new Dictionary<string, string> { ["AmpCan__StateDirectory"] = _dir };
        using (ServiceProcess first = ServiceProcess.Start(_dir, env, "--board", _board))
        {
            first.WaitForLine("incoming msg 1 ", TimeSpan.FromSeconds(60)); // the sample's channel works
            // The record is written off the device's loop, shortly after the channel came: another process's file to watch.
            string record = Path.Combine(_dir, "attach.attach.json");
            Assert.That(SpinWait.SpinUntil(() => File.Exists(record) && File.ReadAllText(record).Contains("rpmsg-client-sample", StringComparison.Ordinal), TimeSpan.FromSeconds(30)),
                Is.True, "channels are recorded as they come");
            first.Process.Kill(); // SIGKILL: nothing is detached, reset or written
            first.Process.WaitForExit();
        }
        using (ServiceProcess second = ServiceProcess.Start(_dir, env, "--board", _board))
        {
            second.WaitForLine("took over a running device", TimeSpan.FromSeconds(60));
            second.WaitForLine("AmpCan is serving board attach", TimeSpan.FromSeconds(60));
            Assert.Multiple(() =>
            {
                Assert.That(second.Output, Does.Contain("returns owed"), "without a record of the rings it waits for what the remote owes");
                Assert.That(second.Output, Does.Contain("2 channels carried over"), "echo and client sample, from the record");
                Assert.That(second.Output, Does.Contain("remote attach: attached"));
            });
            // A clean stop detaches: the third service resumes exactly.
            Assert.That(Tmds.Linux.LibC.kill(second.Process.Id, Tmds.Linux.LibC.SIGINT), Is.Zero);
            Assert.That(second.WaitForExit(TimeSpan.FromSeconds(60)), Is.Zero, second.Output);
            Assert.That(second.Output, Does.Contain("detached; the remote runs on"));
        }
        using (ServiceProcess third = ServiceProcess.Start(_dir, env, "--board", _board))
        {
            third.WaitForLine("took over a running device", TimeSpan.FromSeconds(60));
            Assert.That(third.Output, Does.Contain("resumed where the driver before left it"));
            third.Process.Kill();
        }
        Assert.Multiple(() =>
        {
            Assert.That(Count(remote.Output, "host set DRIVER_OK"), Is.EqualTo(1), $"the remote never reset:\n{remote.Output}");
            Assert.That(remote.Output, Does.Not.Contain("broke the protocol"));
            Assert.That(remote.Process.HasExited, Is.False);
        });
    }
}
