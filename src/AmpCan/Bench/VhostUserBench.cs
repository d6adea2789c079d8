using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using AmpCan.Host.Boards;
using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Simulation;
using Microsoft.Extensions.Logging.Abstractions;

namespace AmpCan.Host.Bench;

/// <summary>
/// <c>ampcan bench vhost-user</c>: a QEMU guest's own Linux rpmsg stack (<c>rpmsg_char</c> from user space) against
/// AmpCan's rpmsg device over vhost-user: the guest's echo round trip and pipelined throughput (under TCG, where the
/// guest's figures say more about the emulator than about AmpCan), and what is AmpCan's own: its loop thread's CPU time
/// per echoed message, next to the same device code's cost on the resource-table transport measured in the same run;
/// then the same for virtio-can (<see cref="VhostUserCanBench"/>, keys <c>vhost_can.*</c>).
/// </summary>
public sealed partial class VhostUserBench(BenchSettings settings, TextWriter log, string guestBench, string boardPath)
{
    private static readonly NotificationMode[] Modes = [NotificationMode.Doorbell, NotificationMode.Adaptive];

    /// <summary>Runs every case and returns the figures.</summary>
    public BenchReport Run()
    {
        var report = new BenchReport();
        BoardDescriptor board = BoardDescriptor.Load(boardPath);
        int rounds = settings.DoorbellRoundTrips / 4;
        foreach (NotificationMode mode in Modes)
        {
            string m = VringBench.Name(mode);
            if (!settings.Runs($"vhost.{m}")) continue;
            double floor = ResourceTableCostUs(board, mode, rounds);
            report.Add("the floor: the same rpmsg device on the resource-table transport (sim board, in-process host), remote loop CPU per echoed message",
                $"rt.remote_loop_cpu_us_per_message.{m}", floor, $"{floor:F2} us");
            log.WriteLine($"# vhost.{m}: a guest against the vhost-user back end ...");
            GuestFigures g = Guest(board, mode, rounds);
            foreach (var (key, value, display) in g.Lines)
                report.Add("a Linux guest (TCG, 1 vCPU) through rpmsg_char, AmpCan serving over vhost-user: the guest's own measurements", $"vhost.{m}.{key}", value, display);
            report.Add("AmpCan's own cost: the vhost-user device's loop thread CPU per echoed message (one in, one out), over the guest's echo phases",
                $"vhost.{m}.loop_cpu_us_per_message", g.LoopCpuUsPerMessage, $"{g.LoopCpuUsPerMessage:F2} us ({g.Messages} messages)");
            report.Add("ratios", $"vhost.{m}.loop_cpu.vs_resource_table", g.LoopCpuUsPerMessage / floor, $"{g.LoopCpuUsPerMessage / floor:F2}x the resource-table transport's");
        }
        new VhostUserCanBench(settings, log, guestBench).Run(report);
        return report;
    }

    private sealed record GuestFigures(List<(string Key, double Value, string Display)> Lines, double LoopCpuUsPerMessage, long Messages);

    // The same device code (VirtioRpmsgDevice) under the simulated remote on the sim board: its loop's CPU per echo.
    private double ResourceTableCostUs(BoardDescriptor board, NotificationMode mode, int rounds)
    {
        using BoardHost host = BoardHost.Start(board, new BoardHostOptions { Mode = mode });
        if (!host.SimulatedRemote!.Ready.Wait(TimeSpan.FromSeconds(20)) || !host.SimulatedRemote.Ready.Result)
            throw new BenchmarkFailedException("the simulated remote did not come up");
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("bench", null, destination: host.SimulatedRemote.Echo!.Address);
        byte[] payload = new byte[16];
        for (int i = 0; i < rounds / 10; i++) Echo(ep, payload);
        TimeSpan before = host.SimulatedRemote.Loop.CpuTime ?? throw new BenchmarkFailedException("no CPU time for the remote's loop (procfs)");
        for (int i = 0; i < rounds; i++) Echo(ep, payload);
        TimeSpan after = host.SimulatedRemote.Loop.CpuTime!.Value;
        return (after - before).TotalMicroseconds / rounds;

        static void Echo(RpmsgEndpoint ep, byte[] payload)
        {
            ep.Send(payload);
            using RpmsgMessage reply = ep.Receive(TimeSpan.FromSeconds(10));
        }
    }

    private GuestFigures Guest(BoardDescriptor board, NotificationMode mode, int rounds)
    {
        string dir = Directory.CreateTempSubdirectory("ampcan-vhost-bench-").FullName;
        try
        {
            string socket = Path.Combine(dir, "rpmsg.sock");
            using VhostUserRpmsgService service = VhostUserRpmsgService.Start([socket], SimulatedFirmware.For(board), mode, NullLoggerFactory.Instance);
            VhostUserRpmsgService.Instance served = service.Instances[0];
            // Sampled from outside the loop: its CPU time and the messages its bus took, so the cost is that of the
            // echo phases only, not of the guest's boot.
            var samples = new List<(TimeSpan Cpu, long Received)>();
            using var stop = new CancellationTokenSource();
            var sampler = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    if (served.Device.Bus is VirtioRpmsgRemote bus && served.Loop.CpuTime is TimeSpan cpu)
                        lock (samples) samples.Add((cpu, bus.Statistics.MessagesReceived));
                    stop.Token.WaitHandle.WaitOne(2);
                }
            }) { IsBackground = true, Name = "vhost-bench sampler" };
            sampler.Start();
            string r = rounds.ToString(CultureInfo.InvariantCulture), p = (rounds * 2).ToString(CultureInfo.InvariantCulture);
            string script = $"rpmsg-up.sh --expect rpmsg-echo >/dev/null && rpmsg_echo -s 16:16 -r {r} rpmsg-echo && rpmsg_echo -s 496:496 -r {r} rpmsg-echo" +
                $" && rpmsg_echo -s 16:16 -r {p} -w 32 rpmsg-echo && rpmsg_echo -s 496:496 -r {p} -w 32 rpmsg-echo";
            var psi = new ProcessStartInfo(Path.Combine(guestBench, "run-guest.sh")) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in new[] { "--timeout", "600", "--rpmsg", socket, "--", "bash", "-c", script }) psi.ArgumentList.Add(a);
            using Process guest = Process.Start(psi) ?? throw new BenchmarkFailedException("cannot start run-guest.sh");
            Task<string> err = guest.StandardError.ReadToEndAsync();
            string output = guest.StandardOutput.ReadToEnd();
            guest.WaitForExit();
            stop.Cancel();
            sampler.Join();
            if (guest.ExitCode != 0)
                throw new BenchmarkFailedException($"the guest failed (exit {guest.ExitCode}): {output.Trim()} {err.Result.Trim()}");

            var lines = new List<(string, double, string)>();
            string[] names = ["rt.16", "rt.496", "stream.16", "stream.496"];
            int i = 0;
            foreach (Match x in EchoLine().Matches(output))
            {
                if (i >= names.Length) break;
                string name = names[i++];
                if (x.Groups["mean"].Success)
                {
                    double mean = double.Parse(x.Groups["mean"].Value, CultureInfo.InvariantCulture);
                    lines.Add(($"{name}.mean_us", mean, $"mean {mean:F0} us, min {x.Groups["min"].Value} us, max {x.Groups["max"].Value} us"));
                }
                else
                {
                    double rate = double.Parse(x.Groups["rate"].Value, CultureInfo.InvariantCulture);
                    lines.Add(($"{name}.messages_per_second", rate, $"{rate / 1000:F1} k messages/s (32 in flight)"));
                }
            }
            if (i != names.Length) throw new BenchmarkFailedException($"the guest printed {i} of {names.Length} results: {output.Trim()}");

            // The echo phases: from the first message the bus took to the last.
            (TimeSpan Cpu, long Received)[] s;
            lock (samples) s = [.. samples];
            int first = Array.FindIndex(s, x => x.Received > 0);
            int last = Array.FindIndex(s, x => x.Received == s[^1].Received);
            if (first < 0 || last <= first) throw new BenchmarkFailedException("the sampler saw no messages");
            long messages = s[last].Received - s[first].Received;
            double cpuUs = (s[last].Cpu - s[first].Cpu).TotalMicroseconds;
            return new GuestFigures(lines, cpuUs / messages, messages);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [GeneratedRegex(@"rpmsg_echo: PASS .*?(?:round trip mean (?<mean>\d+) us min (?<min>\d+) max (?<max>\d+)|throughput (?<rate>\d+) messages/s)")]
    private static partial Regex EchoLine();
}
