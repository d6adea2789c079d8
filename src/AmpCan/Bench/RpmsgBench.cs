using System.Diagnostics;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Simulation;
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
                var rpmsgs = new List<(LatencyStats Stats, double Alloc)>();
                for (int rep = 0; rep < Repetitions; rep++)
                {
                    rings.Add(vring.RoundTrip(mode, payload, n, measureIdle: false).Stats);
                    rpmsgs.Add(RoundTrip(vring, mode, payload, n));
                }
                LatencyStats ring = rings.OrderBy(x => x.MedianUs).ElementAt(Repetitions / 2);
                var (stats, _) = rpmsgs.OrderBy(x => x.Stats.MedianUs).ElementAt(Repetitions / 2);
                double alloc = rpmsgs.Max(x => x.Alloc);
                report.AddLatency("rpmsg echo round trip (host endpoint -> remote echo service -> host endpoint); middle of 3 runs", $"rpmsg.rt.{m}.{payload}", stats);
                report.AddLatency("vring round trip, interleaved with the above; middle of 3 runs", $"vring.rt.{m}.{payload}", ring);
                report.Add("ratios", $"rpmsg.rt.{m}.{payload}.vs_vring", stats.MedianUs / ring.MedianUs, $"{stats.MedianUs / ring.MedianUs:F2}x the vring round trip (median)");
                report.Add("allocation (bytes per message allocated by the host and remote loop threads, steady state; worst of 3 runs)", $"rpmsg.rt.{m}.{payload}.alloc_bytes_per_message", alloc, $"{alloc:F3}");
            }
        }
        foreach (int payload in VringBench.Payloads)
        {
            foreach (NotificationMode mode in Modes)
            {
                string key = $"rpmsg.stream.{VringBench.Name(mode)}.{payload}";
                if (!settings.Runs(key)) continue;
                log.WriteLine($"# {key} ...");
                var (rate, alloc) = Stream(vring, mode, payload, settings.StreamBuffers / 2);
                report.Add("pipelined one-way host -> remote", $"{key}.messages_per_s", rate, $"{rate / 1e6:F2} M messages/s   {rate * payload / 1e9:F2} GB/s payload");
                report.Add("allocation (bytes per message allocated by the host and remote loop threads, steady state)", $"{key}.alloc_bytes_per_message", alloc, $"{alloc:F3}");
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

    private (LatencyStats Stats, double AllocPerMessage) RoundTrip(VringBench vring, NotificationMode mode, int payload, int n)
    {
        using BoardHost host = StartBoard(mode);
        uint echo = host.SimulatedRemote!.Echo!.Address;
        var client = new EchoClient(payload);
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("bench", client.OnReply, destination: echo);
        client.Endpoint = ep;
        vring.WarmUp(() => client.Run(host.Loop, Math.Max(500, n / 20)));
        long[] samples = client.Run(host.Loop, n);
        // A second window counts what the host's and the remote's loop threads allocate, apart from the timed one.
        long allocated = LoopAllocationProbe.AllocatedDuring([host.Loop, host.SimulatedRemote.Loop], () => client.Run(host.Loop, n));
        if (client.Errors > 0) throw new InvalidOperationException($"{client.Errors} echoes came back wrong");
        return (LatencyStats.From(samples), allocated / (double)n);
    }

    private (double MessagesPerSecond, double AllocPerMessage) Stream(VringBench vring, NotificationMode mode, int payload, int n)
    {
        using BoardHost host = StartBoard(mode);
        long received = 0;
        byte[] scratch = new byte[payload];
        using RpmsgEndpoint sink = host.SimulatedRemote!.Rpmsg.CreateEndpoint("bench-sink", (in RpmsgReceivedMessage m) =>
        {
            m.Payload.CopyTo(scratch); // a consumer reads what it receives
            Volatile.Write(ref received, received + 1);
        });
        var sender = new StreamSender(payload);
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("bench-src", null, destination: sink.Address);
        sender.Endpoint = ep;
        host.Loop.Add(sender);
        void RunToCompletion()
        {
            long t0 = Stopwatch.GetTimestamp();
            sender.Run(host.Loop, n);
            long target = Interlocked.Read(ref sender.Total);
            while (Volatile.Read(ref received) < target)
            {
                if (Stopwatch.GetElapsedTime(t0) > TimeSpan.FromMinutes(2)) throw new TimeoutException($"remote received {received} of {target}");
                Thread.Yield();
            }
        }
        vring.WarmUp(() => sender.Run(host.Loop, Math.Max(10_000, n / 20)));
        long start = Stopwatch.GetTimestamp();
        RunToCompletion();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long allocated = LoopAllocationProbe.AllocatedDuring([host.Loop, host.SimulatedRemote.Loop], RunToCompletion);
        return (n / seconds, allocated / (double)n);
    }

    /// <summary>Host-side echo client: one message in flight; the reply callback (on the host loop) sends the next.</summary>
    private sealed class EchoClient(int payload)
    {
        private readonly byte[] _message = new byte[payload];
        private readonly ManualResetEventSlim _done = new();
        private long[] _samples = [];
        private int _count;
        private long _sentAt;
        private ulong _seq;
        public RpmsgEndpoint Endpoint = null!;
        public int Errors;

        public long[] Run(NotificationLoop loop, int n)
        {
            _samples = new long[n];
            _count = 0;
            _done.Reset();
            Send();
            if (!_done.Wait(TimeSpan.FromMinutes(5))) throw new TimeoutException($"echoes stalled after {_count} of {n}");
            return _samples;
        }

        private void Send()
        {
            _seq++;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(_message, _seq);
            _sentAt = Stopwatch.GetTimestamp();
            Endpoint.Send(_message);
        }

        public void OnReply(in RpmsgReceivedMessage m)
        {
            long dt = Stopwatch.GetTimestamp() - _sentAt;
            if (m.Payload.Length != _message.Length || System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(m.Payload) != _seq) Errors++;
            _samples[_count++] = dt;
            if (_count == _samples.Length) _done.Set();
            else Send();
        }
    }

    /// <summary>Host-side pipelined sender, run on the host loop: sends while transmit buffers are free.</summary>
    private sealed class StreamSender(int payload) : INotificationHandler
    {
        private readonly byte[] _message = new byte[payload];
        private readonly ManualResetEventSlim _done = new();
        private long _left;
        private volatile bool _running;
        public RpmsgEndpoint Endpoint = null!;
        public long Total;

        public void Run(NotificationLoop loop, long n)
        {
            _done.Reset();
            _left = n;
            _running = true;
            loop.Wake();
            if (!_done.Wait(TimeSpan.FromMinutes(5))) throw new TimeoutException($"sender stalled with {_left} left");
        }

        public bool Process()
        {
            if (!_running) return false;
            int sent = 0;
            while (_left > 0 && sent < 256 && Endpoint.TrySend(_message))
            {
                _left--;
                sent++;
            }
            Interlocked.Add(ref Total, sent);
            if (_left == 0)
            {
                _running = false;
                _done.Set();
            }
            return sent > 0 || _running;
        }

        public bool ArmNotifications() => _running;
        public void DisarmNotifications() { }
    }
}
