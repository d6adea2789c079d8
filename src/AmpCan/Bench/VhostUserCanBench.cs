using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using AmpCan.Host.Service;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VirtioCan.Bus;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Host.Bench;

/// <summary>
/// The CAN cases of <c>ampcan bench vhost-user</c>: a QEMU guest's Linux <c>virtio_can</c> driver and can-utils against
/// one controller AmpCan serves over vhost-user on its in-process bus, whose other member is the host's
/// (<see cref="VhostCanBenchPeer"/>, on the device's loop). Both directions stream classic 8-byte frames, every one
/// checked: the guest's <c>cangen -g 0</c> to the host, the host's to the guest's <c>candump</c>. Under TCG the rates say
/// more about the emulator than about AmpCan; what is AmpCan's own is its device loop's CPU time per frame, next to the
/// same device code's on the resource-table transport (<see cref="CanTestbed"/>), measured in the same run.
/// </summary>
public sealed partial class VhostUserCanBench(BenchSettings settings, TextWriter log, string guestBench)
{
    // Busy-poll is left out: its loop takes a core, which the emulated guest's vCPU needs on a two-core machine.
    private static readonly NotificationMode[] Modes = [NotificationMode.Doorbell, NotificationMode.Adaptive];
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private const string GuestSection = "virtio-can: a Linux guest (TCG, 1 vCPU; virtio_can, can-utils) and AmpCan serving one controller over vhost-user on its in-process bus, classic 8-byte frames, every one checked; the rates through an emulated guest mean little";
    private const string CostSection = "virtio-can: AmpCan's own cost, its device loop's CPU time per frame (the loop also runs the host's bus member, as in bench can), over vhost-user from the first frame to the last, and on the resource-table transport (sim board's vdev, driver streaming on a loop of its own) as the floor";

    /// <summary>Frames per stream each way: twenty thousand in a full run (a second or two through the guest), a thousand in a quick one.</summary>
    private int GuestFrames => Math.Max(1000, settings.DoorbellRoundTrips);

    /// <summary>Frames per resource-table window: half a million in a full run (as <c>bench can</c>'s), twenty thousand in a quick one (some milliseconds of CPU, so that its time is seen to advance).</summary>
    private long FloorFrames => Math.Max(20_000, settings.StreamBuffers / 8);

    /// <summary>Runs the case of each notification mode the filter selects, adding the figures to <paramref name="report"/>.</summary>
    public void Run(BenchReport report)
    {
        foreach (NotificationMode mode in Modes)
        {
            string key = $"vhost_can.{VringBench.Name(mode)}";
            if (!settings.Runs(key)) continue;
            log.WriteLine($"# {key} ...");
            GuestRun g = Guest(mode);
            double inRate = (g.Frames - 1) / Stopwatch.GetElapsedTime(g.In.First.At, g.In.Last.At).TotalSeconds;
            var inCost = new LoopCost((g.In.Last.Cpu - g.In.First.Cpu).TotalNanoseconds / (g.Frames - 1), (g.In.Last.Parks - g.In.First.Parks) / (double)(g.Frames - 1));
            var outCost = new LoopCost((g.Out.Last.Cpu - g.Out.First.Cpu).TotalNanoseconds / g.Frames, (g.Out.Last.Parks - g.Out.First.Parks) / (double)g.Frames);
            log.WriteLine($"# {key}: the floors on the resource-table transport ...");
            LoopCost inFloor = Floor(mode, toDriver: false), outFloor = Floor(mode, toDriver: true);

            report.Add(GuestSection, $"{key}.guest_to_amp.frames_per_second", inRate,
                $"{inRate:F0} frames/s: cangen -g 0 in the guest, as the host's member took them (first to last of {g.Frames})");
            report.Add(GuestSection, $"{key}.amp_to_guest.frames_per_second", g.OutRate,
                $"{g.OutRate:F0} frames/s: the host's member sending, as the guest's candump took them (its receive timestamps, first to last of {g.Frames})");
            Cost(report, $"{key}.guest_to_amp", inCost, inFloor, "frame from the guest (its transmit, the bus, the echo that answers it under LATE_TX_ACK)");
            Cost(report, $"{key}.amp_to_guest", outCost, outFloor, "frame to the guest (the bus, its receive buffer)");
        }
    }

    /// <summary>The device loop's CPU time per frame, and how often it parked per frame (once per batch of frames when it waits for kicks).</summary>
    private readonly record struct LoopCost(double CpuNs, double Parks);

    private static void Cost(BenchReport report, string key, LoopCost vhost, LoopCost floor, string what)
    {
        report.Add(CostSection, $"{key}.loop_cpu_ns_per_frame", vhost.CpuNs, $"{vhost.CpuNs:F0} ns CPU per {what}, over vhost-user");
        report.Add(CostSection, $"{key}.loop_parks_per_frame", vhost.Parks, $"{vhost.Parks:F3} parks of the device's loop per frame (it takes the frames woken by one kick, then parks), over vhost-user");
        report.Add(CostSection, $"{key}.resource_table_loop_cpu_ns_per_frame", floor.CpuNs, $"{floor.CpuNs:F0} ns CPU per frame on the resource-table transport, the same direction");
        report.Add(CostSection, $"{key}.resource_table_loop_parks_per_frame", floor.Parks, $"{floor.Parks:F3} parks of the device's loop per frame on the resource-table transport");
        report.Add("ratios", $"{key}.loop_cpu.vs_resource_table", vhost.CpuNs / floor.CpuNs,
            $"{vhost.CpuNs / floor.CpuNs:F2}x the resource-table transport's (the guest under TCG sends and takes frames in small batches, each woken by a kick; the floor's driver streams them on a core of its own)");
    }

    private sealed record GuestRun(long Frames, (VhostCanBenchPeer.Mark First, VhostCanBenchPeer.Mark Last) In, (VhostCanBenchPeer.Mark First, VhostCanBenchPeer.Mark Last) Out, double OutRate);

    private GuestRun Guest(NotificationMode mode)
    {
        int n = GuestFrames;
        string dir = Directory.CreateTempSubdirectory("ampcan-vhost-can-bench-").FullName;
        try
        {
            string socket = Path.Combine(dir, "can.sock");
            using VhostUserCanService service = VhostUserCanService.Start([socket], mode, NullLoggerFactory.Instance);
            VhostUserCanService.Instance served = service.Instances[0];
            var faults = new CaseFaults();
            faults.Watch(served.Loop);
            using VirtualCanPort hostPort = service.Bus.Attach("bench");
            var peer = new VhostCanBenchPeer(hostPort, served.Loop, served.Port, n, faults);
            served.Loop.Add(peer);
            string output, errors;
            int code;
            using (peer)
            {
                // The guest floods the host, then listens (its socket bound before it says go) while the host floods it,
                // and checks every frame it got: the identifier and the 8 data bytes follow the frame's number. The
                // socket's receive buffer holds the whole stream (root forces it past rmem_max), for candump under TCG
                // may fall behind the driver for long stretches; the timestamps are the kernel's, taken on receipt.
                string script = $$"""
                    modprobe virtio_can && ip link set can0 up || exit 2
                    cangen can0 -g 0 -p 10 -x -I {{VhostCanBenchPeer.StreamId:X3}} -L 8 -D i -n {{n}} || exit 3
                    candump -d -L -r 33554432 -n {{n + 1}} -T 30000 can0 >/tmp/rx.log & c=$!
                    until ls -l /proc/$c/fd 2>/dev/null | grep -q socket; do sleep 0.05; done
                    sleep 0.2
                    cansend can0 {{VhostCanBenchPeer.GoId:X3}}#00 || exit 4
                    wait $c
                    awk '/^DROPCOUNT/ { drops = $NF + 0; next }
                         { split($3, f, "#"); if (f[1] == "{{VhostCanBenchPeer.GoId:X3}}") next
                           k++; d = ""; for (i = 0; i < 8; i++) d = d sprintf("%02X", int(k / 256 ^ i) % 256)
                           if (f[1] != sprintf("%03X", k % {{CanBenchFrames.ReplyBit}}) || f[2] != d) { if (!bad) first = k ": " $3; bad++ }
                           if (k == 1) t0 = $1; t1 = $1 }
                         END { printf "RX %d %d %d %s %s %s\n", k, bad, drops, t0, t1, first }' /tmp/rx.log
                    """;
                var psi = new ProcessStartInfo(Path.Combine(guestBench, "run-guest.sh")) { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (string a in new[] { "--timeout", "600", "--can", socket, "--", "bash", "-c", script }) psi.ArgumentList.Add(a);
                using Process guest = Process.Start(psi) ?? throw new BenchmarkFailedException("cannot start run-guest.sh");
                Task<string> err = guest.StandardError.ReadToEndAsync();
                output = guest.StandardOutput.ReadToEnd();
                guest.WaitForExit();
                (code, errors) = (guest.ExitCode, err.Result);
            }
            string said = $"the guest said: {output.Trim()} {errors.Trim()}";
            faults.ThrowIfFaulted();
            if (code != 0) throw new BenchmarkFailedException($"the guest failed (exit {code}): {said}");
            if (peer.SequenceErrors > 0) throw new BenchmarkFailedException($"{peer.SequenceErrors} frames of the guest's stream were not the next; the first: {peer.FirstError}");
            if (!peer.GuestStreamDone) throw new BenchmarkFailedException($"the host took {peer.Received} of the guest's {n} frames; {said}");
            if (!peer.HostStreamDone) throw new BenchmarkFailedException($"the device took {peer.Sent - served.Port.Pending} of the host's {n} frames; {said}");
            if (served.Device.Rejected != 0 || served.Device.Dropped != 0 || served.Device.StrayEchoes != 0 || served.Port.Dropped != 0)
                throw new BenchmarkFailedException($"the device rejected {served.Device.Rejected} transmits, dropped {served.Device.Dropped} frames, saw {served.Device.StrayEchoes} stray echoes; its port dropped {served.Port.Dropped}");

            Match rx = ReceivedLine().Match(output);
            if (!rx.Success) throw new BenchmarkFailedException($"the guest printed no RX line; {said}");
            long got = long.Parse(rx.Groups["count"].Value, CultureInfo.InvariantCulture), bad = long.Parse(rx.Groups["bad"].Value, CultureInfo.InvariantCulture);
            if (got != n || bad != 0)
                throw new BenchmarkFailedException($"the guest's candump took {got} of {n} frames, {bad} not the next in sequence (the first: {rx.Groups["first"].Value.Trim()}); its socket dropped {rx.Groups["drops"].Value}");
            decimal seconds = decimal.Parse(rx.Groups["t1"].Value, CultureInfo.InvariantCulture) - decimal.Parse(rx.Groups["t0"].Value, CultureInfo.InvariantCulture);
            if (seconds <= 0) throw new BenchmarkFailedException($"the guest's first and last receive timestamps are {rx.Groups["t0"].Value} and {rx.Groups["t1"].Value}");
            return new GuestRun(n, peer.GuestToHost, peer.HostToGuest, (n - 1) / (double)seconds);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The device loop's CPU time and parks per frame on the resource-table transport, in <paramref name="mode"/>, LATE_TX_ACK on
    /// (as Linux's driver negotiates it): the driver streaming to a sink member on the device's loop, or a flooder
    /// there streaming to the driver (<paramref name="toDriver"/>), warmed up, then one window of frames.
    /// </summary>
    private LoopCost Floor(NotificationMode mode, bool toDriver)
    {
        var frames = new CanBenchFrames(fd: false);
        using var bed = new CanTestbed("bench-vhost-can-floor", mode, lateTxAck: true);
        CanStreamSink sink;
        Func<long> sent;
        Action<long> send;
        IDisposable? flooding = null;
        if (toDriver)
        {
            var flooder = new CanFlooder(bed.Bus.Attach("flooder"), bed.DeviceLoop, frames, bed.Faults, CanBench.FloodWindow);
            sink = new CanStreamSink(bed.Driver, bed.DriverLoop, frames, bed.Faults, flooder.WakeIfParked);
            flooder.Taken = () => sink.Received;
            bed.DeviceLoop.Add(flooder);
            bed.DriverLoop.Add(sink);
            (sent, send, flooding) = (() => flooder.Sent, flooder.Run, flooder);
        }
        else
        {
            sink = new CanStreamSink(bed.Bus.Attach("sink"), bed.DeviceLoop, frames, bed.Faults);
            var streamer = new CanStreamSender(bed.Driver, bed.DriverLoop, frames, bed.Faults);
            bed.DeviceLoop.Add(sink);
            bed.DriverLoop.Add(streamer);
            (sent, send) = (() => streamer.Sent, streamer.Run);
        }
        using (sink)
        using (flooding)
        {
            void RunToCompletion(long count)
            {
                sink.Expect(sent() + count);
                send(count);
                sink.Wait(Patience);
            }
            var warm = Stopwatch.StartNew();
            do RunToCompletion(Math.Max(1000, FloorFrames / 20));
            while (warm.Elapsed.TotalSeconds < settings.WarmupSeconds);
            TimeSpan cpu0 = bed.DeviceLoop.CpuTime ?? throw new BenchmarkFailedException("no CPU time for the device's loop (procfs)");
            long parks0 = bed.DeviceLoop.Parks;
            RunToCompletion(FloorFrames);
            TimeSpan cpu1 = bed.DeviceLoop.CpuTime!.Value;
            long parks = bed.DeviceLoop.Parks - parks0;
            if (cpu1 <= cpu0) throw new BenchmarkFailedException($"resource-table floor: the device loop's CPU time did not advance over {FloorFrames} frames");
            if (sink.SequenceErrors > 0) throw new BenchmarkFailedException($"resource-table floor: {sink.SequenceErrors} frames not the next in sequence; the first: {sink.FirstError}");
            bed.ThrowIfUnclean("resource-table floor");
            return new LoopCost((cpu1 - cpu0).TotalNanoseconds / FloorFrames, parks / (double)FloorFrames);
        }
    }

    [GeneratedRegex(@"^RX (?<count>\d+) (?<bad>\d+) (?<drops>\d+)(?: \((?<t0>[\d.]+)\) \((?<t1>[\d.]+)\))?(?<first>.*)$", RegexOptions.Multiline)]
    private static partial Regex ReceivedLine();
}
