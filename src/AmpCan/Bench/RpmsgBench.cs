using AmpCan.Host.Boards;
using System.Diagnostics;
using AmpCan.Remoteproc.Boards;
using AmpCan.Simulation;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Bench;

/// <summary>
/// <c>ampcan bench rpmsg</c>: the whole stack on the sim board (BoardHost, rpmsg host, simulated remote in-process,
/// EVENT_IDX negotiated), echo round trip and pipelined one-way messages, with the vring-only round trip measured in
/// the same run for the ratio.
/// </summary>
public sealed class RpmsgBench(BenchSettings settings, TextWriter log, string boardPath)
{
    private static readonly NotificationMode[] Modes = [NotificationMode.Polling, NotificationMode.Doorbell, NotificationMode.Adaptive];
    private const int Repetitions = 3;

    /// <summary>Runs every case and returns the figures.</summary>
    public BenchReport Run()
    {
        var report = new BenchReport();
        var vring = new VringBench(settings, log);
        foreach (int payload in VringBench.Payloads)
        {
            foreach (NotificationMode mode in Modes)
            {
                string m = VringBench.Name(mode);
                int n = mode == NotificationMode.Doorbell ? settings.DoorbellRoundTrips : settings.SpinRoundTrips;
                if (!settings.Runs($"rpmsg.rt.{m}.{payload}")) continue;
                log.WriteLine($"# rpmsg.rt.{m}.{payload} ...");
                // Interleave the two round trips three times and keep the middle run of each: the VM's scheduling
                // noise moves both, and this keeps one unlucky run from deciding the ratio.
                var rings = new List<LatencyStats>();
                var rpmsgs = new List<(LatencyStats Stats, double Alloc, LoopParks Parks)>();
                for (int rep = 0; rep < Repetitions; rep++)
                {
                    rings.Add(vring.RoundTrip(mode, payload, n, measureIdle: false).Stats);
                    rpmsgs.Add(RoundTrip(vring, mode, payload, n));
                }
                LatencyStats ring = rings.OrderBy(x => x.MedianUs).ElementAt(Repetitions / 2);
                var (stats, _, parks) = rpmsgs.OrderBy(x => x.Stats.MedianUs).ElementAt(Repetitions / 2);
                double alloc = rpmsgs.Max(x => x.Alloc);
                report.AddLatency("rpmsg echo round trip (host endpoint -> remote echo service -> host endpoint); middle of 3 runs", $"rpmsg.rt.{m}.{payload}", stats);
                report.AddLatency("vring round trip, interleaved with the above; middle of 3 runs", $"vring.rt.{m}.{payload}", ring);
                report.Add("ratios", $"rpmsg.rt.{m}.{payload}.vs_vring", stats.MedianUs / ring.MedianUs, $"{stats.MedianUs / ring.MedianUs:F2}x the vring round trip (median)");
                report.Add("allocation (bytes per message allocated by the host and remote loop threads, steady state; worst of 3 runs)", $"rpmsg.rt.{m}.{payload}.alloc_bytes_per_message", alloc, $"{alloc:F3}");
                parks.AddTo(report, $"rpmsg.rt.{m}.{payload}", "host", "remote", "message");
            }
        }
        foreach (int payload in VringBench.Payloads)
        {
            foreach (NotificationMode mode in Modes)
            {
                string key = $"rpmsg.stream.{VringBench.Name(mode)}.{payload}";
                if (!settings.Runs(key)) continue;
                log.WriteLine($"# {key} ...");
                var streams = Enumerable.Range(0, Repetitions).Select(_ => Stream(vring, mode, payload, settings.StreamBuffers / 2)).ToList();
                var middle = streams.OrderBy(x => x.MessagesPerSecond).ElementAt(Repetitions / 2);
                double rate = middle.MessagesPerSecond;
                double alloc = streams.Max(x => x.AllocPerMessage);
                report.Add("pipelined one-way host -> remote (remote copies each payload out and checks its number and checksum; middle of 3 runs)", $"{key}.messages_per_s", rate,
                    $"{rate / 1e6:F2} M messages/s   {rate * payload / 1e9:F2} GB/s payload   (runs: {string.Join(", ", streams.Select(x => (x.MessagesPerSecond / 1e6).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))} M/s)");
                report.Add("allocation (bytes per message allocated by the host and remote loop threads, steady state; worst of 3 runs)", $"{key}.alloc_bytes_per_message", alloc, $"{alloc:F3}");
                middle.Parks.AddTo(report, key, "host", "remote", "message");
            }
        }
        return report;
    }

    private BoardHost StartBoard(NotificationMode mode)
    {
        BoardHost host = BoardHost.Start(BoardDescriptor.Load(boardPath), new BoardHostOptions
        {
            Remote = RemoteKind.Simulated,
            Mode = mode,
            PinLoops = true,
            Firmware = new SimulatedFirmware { Features = (1u << VirtioRpmsg.FeatureNameService) | (1u << VirtioRingFeatures.EventIndex) },
        });
        if (!host.SimulatedRemote!.Ready.Wait(TimeSpan.FromSeconds(30)) || !host.SimulatedRemote.Ready.Result)
            throw new TimeoutException("the simulated remote did not come up");
        return host;
    }

    private (LatencyStats Stats, double AllocPerMessage, LoopParks Parks) RoundTrip(VringBench vring, NotificationMode mode, int payload, int n)
    {
        using BoardHost host = StartBoard(mode);
        var faults = new CaseFaults();
        Watch(faults, host);
        uint echo = host.SimulatedRemote!.Echo!.Address;
        var client = new RpmsgEchoClient(payload, faults);
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("bench", client.OnReply, destination: echo);
        client.Endpoint = ep;
        vring.WarmUp(() => client.Run(host.Loop, Math.Max(500, n / 20)));
        var parks = LoopParks.Start(host.Loop, host.SimulatedRemote.Loop);
        long[] samples = client.Run(host.Loop, n);
        parks = parks.Stop(n);
        // A second window counts what the host's and the remote's loop threads allocate, apart from the timed one.
        long allocated = LoopAllocationProbe.AllocatedDuring([host.Loop, host.SimulatedRemote.Loop], () => client.Run(host.Loop, n));
        if (client.Errors > 0) throw new BenchmarkFailedException($"rpmsg round trip: {client.Errors} of {client.Completed} replies were not exactly their request");
        return (LatencyStats.From(samples), allocated / (double)n, parks);
    }

    private (double MessagesPerSecond, double AllocPerMessage, LoopParks Parks) Stream(VringBench vring, NotificationMode mode, int payload, int n)
    {
        using BoardHost host = StartBoard(mode);
        var faults = new CaseFaults();
        Watch(faults, host);
        var sink = new RpmsgStreamSink(payload, faults);
        using RpmsgEndpoint sinkEndpoint = host.SimulatedRemote!.Rpmsg.CreateEndpoint("bench-sink", (in RpmsgReceivedMessage m) => sink.Receive(m.Payload));
        // The bus cannot yet wake a parked loop when a transmit buffer frees, so a blocked sender keeps polling.
        var sender = new RpmsgStreamSender(payload, faults, new RpmsgTransmitSpace(host.Rpmsg));
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("bench-src", null, destination: sinkEndpoint.Address);
        sender.Endpoint = ep;
        host.Loop.Add(sender);
        // Timed until the remote has received (and checked) the last message, not until the host has queued it.
        void RunToCompletion()
        {
            sink.Expect(sender.Sent + n);
            sender.Run(host.Loop, n);
            sink.Wait();
        }
        vring.WarmUp(() => sender.Run(host.Loop, Math.Max(10_000, n / 20)));
        var parks = LoopParks.Start(host.Loop, host.SimulatedRemote.Loop);
        long start = Stopwatch.GetTimestamp();
        RunToCompletion();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        parks = parks.Stop(n);
        long allocated = LoopAllocationProbe.AllocatedDuring([host.Loop, host.SimulatedRemote.Loop], RunToCompletion);
        if (sink.SequenceErrors > 0)
            throw new BenchmarkFailedException($"rpmsg stream: {sink.SequenceErrors} messages arrived out of sequence; the first: {sink.FirstError}");
        if (sink.Digest != sender.Digest)
            throw new BenchmarkFailedException($"rpmsg stream: the remote received {sink.Digest}; the host sent {sender.Digest}");
        return (n / seconds, allocated / (double)n, parks);
    }

    private static void Watch(CaseFaults faults, BoardHost host)
    {
        faults.Watch(host.Loop);
        faults.Watch(host.Rpmsg);
        faults.Watch(host.SimulatedRemote!.Loop);
        faults.Watch(host.SimulatedRemote.Rpmsg);
    }
}
