using AmpCan.Host.Boards;
using System.Diagnostics;
using AmpCan.Remoteproc.Boards;
using AmpCan.Simulation;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.Remoteproc;

/// <summary>What a board refuses at start, naming the cause, instead of failing later or waiting for nothing.</summary>
public class BoardStartupTests
{
    private static BoardDescriptor Board(string name) => BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", name + ".json"));

    [Test]
    public void AnExternalRemoteOnAMemfdBoardIsRefusedAtOnce()
    {
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<BoardException>(() => BoardHost.Start(Board("sim"), new BoardHostOptions { Remote = RemoteKind.External }))!;
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "no 30 s wait for a table nobody can write");
        Assert.That(e.Message, Does.Contain("external remote cannot reach memfd shared memory"));
    }

    [Test]
    public void VringsOverlappingTheBufferPoolAreRefusedNamingBoth()
    {
        // The pool of the sim board starts at 0x10000; this firmware puts vring 1 there.
        var firmware = new SimulatedFirmware { Vring1Offset = 0x10000 };
        var e = Assert.Throws<BoardException>(() => BoardHost.Start(Board("sim"), new BoardHostOptions { Remote = RemoteKind.Simulated, Firmware = firmware }))!;
        Assert.That(e.Message, Does.Contain("vdev 0 (id 7) vring 1 [0x30010000, 0x30012806) overlaps the host's rpmsg buffer pool [0x30010000, 0x30050000)"));
    }

    [Test]
    public void VringsOverlappingEachOtherAreRefused()
    {
        var firmware = new SimulatedFirmware { Vring1Offset = 0x5000 };
        var e = Assert.Throws<BoardException>(() => BoardHost.Start(Board("sim"), new BoardHostOptions { Remote = RemoteKind.Simulated, Firmware = firmware }))!;
        Assert.That(e.Message, Does.Contain("vdev 0 (id 7) vring 1 [0x30005000, ").And.Contain("overlaps vdev 0 (id 7) vring 0 [0x30004000, "));
    }

    [Test]
    public void MoreBuffersThanTheRingHoldsIsAConfigurationErrorNamingBoth()
    {
        BoardDescriptor board = Board("sim");
        board = board with { Rpmsg = board.Rpmsg with { RxBuffers = 300 } };
        var e = Assert.Throws<BoardException>(() => BoardHost.Start(board, new BoardHostOptions { Remote = RemoteKind.Simulated }))!;
        Assert.That(e.Message, Does.Contain("300 receive buffers do not fit vq0, a ring of 256 entries"));
    }

    [Test]
    public void WithoutCountsTheBoardTakesLinuxsBufferCountsFromTheRings()
    {
        var firmware = new SimulatedFirmware { QueueSize = 64 };
        using BoardHost host = BoardHost.Start(Board("sim"), new BoardHostOptions { Remote = RemoteKind.Simulated, Firmware = firmware });
        // virtio_rpmsg_bus: num_bufs = vring size < 256 ? 2 * size : 512, half each way.
        Assert.That((host.Rpmsg.RxBuffers, host.Rpmsg.TxBuffers), Is.EqualTo((64, 64)));
    }

    [Test]
    public void WaitingForARemoteSaysWhatForAndHowLongAndStopsCleanlyWhenCancelled()
    {
        string path = $"/dev/shm/ampcan-nobody-{Guid.NewGuid():N}";
        BoardDescriptor board = Board("sim") with
        {
            SharedMemory = new SharedMemorySpec { Kind = SharedMemoryKind.File, Path = path, Size = 0x100000, DeviceAddress = 0x30000000 },
            Remote = new RemoteSpec { Kind = RemoteKind.External, StartTimeoutSeconds = 60 },
        };
        var logs = new CapturingLoggerFactory();
        using var cts = new CancellationTokenSource();
        var sw = Stopwatch.StartNew();
        Task start = Task.Run(() => BoardHost.Start(board, new BoardHostOptions { Loggers = logs }, cts.Token));
        while (!logs.Lines.Any(l => l.Text.Contains("waiting for")) && sw.Elapsed < TimeSpan.FromSeconds(20)) Thread.Yield();
        string line = logs.Lines.Select(l => l.Text).FirstOrDefault(t => t.Contains("waiting for")) ?? "";
        Assert.That(line, Does.Contain($"waiting for the remote to create {path} (up to 60 s"));
        cts.Cancel();
        var e = Assert.Throws<AggregateException>(() => start.Wait(TimeSpan.FromSeconds(10)))!;
        Assert.That(e.InnerException, Is.InstanceOf<OperationCanceledException>(), "Ctrl+C while waiting is a stop, not a failure");
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)));
        Assert.That(logs.AtLeast(LogLevel.Error), Is.Empty);
    }

    [Test]
    public void TheBoardDecidesWhichServicesTheSimulatedRemoteOffers()
    {
        BoardDescriptor board = Board("openamp-linux");
        string id = Guid.NewGuid().ToString("N")[..8];
        board = board with
        {
            SharedMemory = board.SharedMemory with { Path = $"/dev/shm/ampcan-svc-{id}" },
            Doorbell = board.Doorbell with { Path = $"/tmp/ampcan-svc-{id}.sock" },
        };
        try
        {
            using BoardHost host = BoardHost.Start(board, new BoardHostOptions { Remote = RemoteKind.Simulated });
            var sw = Stopwatch.StartNew();
            while (host.Rpmsg.Channels.Count == 0 && sw.Elapsed < TimeSpan.FromSeconds(20)) Thread.Yield();
            Thread.Sleep(100); // any further announcement would follow the first at once
            Assert.That(host.Rpmsg.Channels.Select(c => c.Name), Is.EqualTo(new[] { "rpmsg-openamp-demo-channel" }),
                "OpenAMP's ping complains of any other service; the board offers only the echo");
        }
        finally
        {
            File.Delete($"/dev/shm/ampcan-svc-{id}");
            File.Delete($"/tmp/ampcan-svc-{id}.sock");
        }
    }
}
