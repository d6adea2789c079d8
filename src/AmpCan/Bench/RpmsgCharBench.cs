using System.Diagnostics;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.RpmsgChar;
using AmpCan.RpmsgChar.FrontEnds;
using AmpCan.RpmsgChar.Wire;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Host.Bench;

/// <summary>
/// <c>ampcan bench rpmsg-char</c>: the echo round trip a program sees through an rpmsg_char file (write(2) a message to
/// <c>rpmsgN</c> in the FUSE directory, read(2) the remote's echo), next to the same echo through the in-process
/// endpoint API, and next to the floor of any user-space server: a write and read on a SOCK_SEQPACKET socketpair
/// answered by a thread of the same process. Sim board, eventfd doorbells (no loop spins), all in one run, unpinned and
/// pinned (every thread of the process on CPU 0).
/// </summary>
public sealed class RpmsgCharBench(BenchSettings settings, TextWriter log, string boardPath)
{
    private static readonly int[] Payloads = [16, 496];
    private const int Repetitions = 3;

    /// <summary>Runs every case and returns the figures.</summary>
    public BenchReport Run()
    {
        var report = new BenchReport();
        int n = settings.DoorbellRoundTrips;
        var devices = new RpmsgCharDevices();
        using BoardHost host = BoardHost.Start(BoardDescriptor.Load(boardPath), new BoardHostOptions
        {
            Remote = RemoteKind.Simulated,
            Mode = NotificationMode.Doorbell,
            BindRpmsg = bus => devices.Bind(bus),
        });
        if (!host.SimulatedRemote!.Ready.Wait(TimeSpan.FromSeconds(30)) || !host.SimulatedRemote.Ready.Result)
            throw new TimeoutException("the simulated remote did not come up");
        uint echo = host.SimulatedRemote.Echo!.Address;
        string dir = Path.Combine(Path.GetTempPath(), $"ampcan-bench-rpmsg-{Environment.ProcessId}");
        using RpmsgCharFuseMount mount = RpmsgCharFuseMount.Mount(dir, devices, RpmsgCharFileAccess.RootOnly, NullLogger.Instance);
        try
        {
            using MessageFile file = OpenEndpointFile(devices, dir, echo);
            using RpmsgEndpoint api = host.Rpmsg.CreateEndpoint("bench-api", null, destination: echo);
            foreach (bool pinned in new[] { false, true })
            {
                string placement = pinned ? "pinned" : "unpinned";
                foreach (int payload in Payloads)
                {
                    string key = $"chardev.rt.{placement}.{payload}";
                    if (!settings.Runs(key)) continue;
                    log.WriteLine($"# {key} ...");
                    if (pinned && ThreadAffinity.PinProcess(0) == 0) throw new BenchmarkFailedException("could not pin the process's threads to CPU 0");
                    var floor = new List<LatencyStats>();
                    var inProcess = new List<LatencyStats>();
                    var fuse = new List<(LatencyStats Stats, double Alloc)>();
                    try
                    {
                        for (int rep = 0; rep < Repetitions; rep++)
                        {
                            floor.Add(SocketPair(payload, n));
                            inProcess.Add(Api(api, payload, n));
                            fuse.Add(File(file, payload, n, host, mount));
                        }
                    }
                    finally
                    {
                        if (pinned) ThreadAffinity.UnpinProcess();
                    }
                    LatencyStats f = Middle(floor), a = Middle(inProcess);
                    var (c, _) = fuse.OrderBy(x => x.Stats.MedianUs).ElementAt(Repetitions / 2);
                    double alloc = fuse.Max(x => x.Alloc);
                    string where = pinned ? "every thread of the process on CPU 0" : "unpinned";
                    report.AddLatency($"rpmsg_char echo round trip, write(2) + read(2) on rpmsgN in the FUSE directory ({where}; middle of 3 runs)", key, c);
                    report.AddLatency($"rpmsg echo round trip through the in-process endpoint API, same board ({where}; middle of 3 runs)", $"chardev.api.{placement}.{payload}", a);
                    report.AddLatency($"floor: write + read on a SOCK_SEQPACKET socketpair echoed by a thread of this process ({where}; middle of 3 runs)", $"chardev.socketpair.{placement}.{payload}", f);
                    report.Add("ratios", $"{key}.vs_socketpair", c.MedianUs / f.MedianUs, $"{c.MedianUs / f.MedianUs:F2}x the socketpair floor (median){(pinned ? "; target 3x" : "")}");
                    report.Add("ratios", $"{key}.vs_api", c.MedianUs / a.MedianUs, $"{c.MedianUs / a.MedianUs:F2}x the in-process API (median)");
                    report.Add("allocation (bytes per FUSE echo allocated by the client, FUSE loop, host loop and remote loop threads, steady state; worst of 3 runs)", $"{key}.alloc_bytes_per_message", alloc, $"{alloc:F3}");
                }
            }
        }
        finally
        {
            foreach (RpmsgCharNode node in devices.Files) (node as RpmsgEndpointDevice)?.Destroy();
        }
        return report;
    }

    private static LatencyStats Middle(List<LatencyStats> runs) => runs.OrderBy(x => x.MedianUs).ElementAt(Repetitions / 2);

    // RPMSG_CREATE_EPT_IOCTL through the model (the bench times data, not the ioctl), then open(2) of the file it made.
    private static MessageFile OpenEndpointFile(RpmsgCharDevices devices, string dir, uint echo)
    {
        var ctrl = (RpmsgCtrlDevice)devices.Files.First(f => f is RpmsgCtrlDevice);
        var before = devices.Files.Select(f => f.Name).ToHashSet();
        Span<byte> info = stackalloc byte[RpmsgEndpointInfo.Size];
        new RpmsgEndpointInfo("bench-chardev", RpmsgAddress.Any, echo).Write(info);
        if (ctrl.Ioctl(RpmsgCharIoctl.CreateEndpoint, info) != 0) throw new BenchmarkFailedException("RPMSG_CREATE_EPT_IOCTL failed");
        string name = devices.Files.Select(f => f.Name).First(f => !before.Contains(f));
        return MessageFile.Open(Path.Combine(dir, name), 2 /* O_RDWR */, out int errno)
            ?? throw new BenchmarkFailedException($"open {name} in {dir}: errno {errno}");
    }

    private LatencyStats Measure(int n, Func<bool> roundTrip, string what)
    {
        long warm = Stopwatch.GetTimestamp() + (long)(settings.WarmupSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < warm)
            if (!roundTrip()) throw new BenchmarkFailedException($"{what}: a round trip failed while warming up");
        var samples = new long[n];
        for (int i = 0; i < n; i++)
        {
            long t = Stopwatch.GetTimestamp();
            if (!roundTrip()) throw new BenchmarkFailedException($"{what}: round trip {i} failed");
            samples[i] = Stopwatch.GetTimestamp() - t;
        }
        return LatencyStats.From(samples);
    }

    private (LatencyStats Stats, double Alloc) File(MessageFile file, int payload, int n, BoardHost host, RpmsgCharFuseMount mount)
    {
        byte[] message = new byte[payload], reply = new byte[512];
        message.AsSpan().Fill(0x5a);
        bool RoundTrip() => file.Write(message) == payload && file.Read(reply) == payload && reply[payload - 1] == 0x5a;
        LatencyStats stats = Measure(n, RoundTrip, "rpmsg_char file echo");
        // What the threads on the path allocate (the client, the FUSE loop, the host's and the remote's loops), not
        // what the runtime allocates elsewhere meanwhile (tiered compilation, timers).
        long fuseBefore = mount.LoopAllocatedBytes, client = 0;
        long loops = LoopAllocationProbe.AllocatedDuring([host.Loop, host.SimulatedRemote!.Loop], () =>
        {
            long clientBefore = GC.GetAllocatedBytesForCurrentThread(); // inside: the probe's own set-up is not the client's
            for (int i = 0; i < n; i++)
                if (!RoundTrip()) throw new BenchmarkFailedException("rpmsg_char file echo failed while counting allocations");
            client = GC.GetAllocatedBytesForCurrentThread() - clientBefore;
        });
        long total = loops + client + (mount.LoopAllocatedBytes - fuseBefore);
        return (stats, total / (double)n);
    }

    private LatencyStats Api(RpmsgEndpoint ep, int payload, int n)
    {
        byte[] message = new byte[payload];
        bool RoundTrip()
        {
            ep.Send(message);
            using RpmsgMessage m = ep.Receive(TimeSpan.FromSeconds(10));
            return m.Payload.Length == payload;
        }
        return Measure(n, RoundTrip, "in-process API echo");
    }

    private LatencyStats SocketPair(int payload, int n)
    {
        var (client, server) = MessageFile.SequencedPacketPair();
        var echo = new Thread(() =>
        {
            byte[] b = new byte[512];
            while (true)
            {
                int got = server.Read(b);
                if (got <= 0 || server.Write(b.AsSpan(0, got)) != got) return;
            }
        }) { IsBackground = true, Name = "bench socketpair echo" };
        echo.Start();
        try
        {
            byte[] message = new byte[payload], reply = new byte[512];
            return Measure(n, () => client.Write(message) == payload && client.Read(reply) == payload, "socketpair echo");
        }
        finally
        {
            client.Dispose(); // the echo thread reads end of file and leaves
            echo.Join(TimeSpan.FromSeconds(5));
            server.Dispose();
        }
    }
}
