using System.CommandLine;
using AmpCan.Host.Bench;
using AmpCan.Host.Service;

namespace AmpCan.Host.Commands;

/// <summary><c>ampcan bench vring|rpmsg|vhost-user|can|recovery|rpmsg-char|device-memory</c>: the figures in BENCHMARKS.md.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure the stack; figures go to BENCHMARKS.md");
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding every figure and ratio" };
        var quick = new Option<bool>("--quick") { Description = "Short run (smoke test); figures are noisy" };
        var filter = new Option<string?>("--filter") { Description = "Run only the cases whose key contains this (e.g. rt.busypoll.16)" };
        BenchSettings Settings(ParseResult r) => (r.GetValue(quick) ? BenchSettings.Quick : new BenchSettings()) with { Filter = r.GetValue(filter) };

        var vring = new Command("vring", "Raw floors and split-vring round trip, throughput, allocation and idle CPU") { json, quick, filter };
        vring.SetAction(r =>
        {
            var report = new VringBench(Settings(r), Console.Error).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(vring);

        Option<string?> board = CommonOptions.Board("Board file or name (an in-process simulated remote runs on it); default: configuration AmpCan:Board, else sim");
        var rpmsg = new Command("rpmsg", "rpmsg echo round trip and pipelined throughput through the whole stack, with the vring round trip for the ratio") { json, quick, filter, board };
        rpmsg.SetAction(r =>
        {
            string path = BoardFiles.Resolve(AmpCanConfiguration.Resolve(AmpCanConfiguration.Load(), r.GetValue(board), null, null).Board);
            var report = new RpmsgBench(Settings(r), Console.Error, path).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(rpmsg);

        Option<string?> board2 = CommonOptions.Board("Board whose services the guest talks to (default: configuration AmpCan:Board, else sim)");
        var guestBench = new Option<string?>("--guest-bench") { Description = "The checkout's tests/virtio-vm (default: found above the working directory); prepared with its prepare.sh, run as root" };
        var vhost = new Command("vhost-user", "A QEMU guest's Linux rpmsg stack and virtio_can driver against AmpCan over vhost-user: the guest's round trip and throughput, CAN frames/s both ways, AmpCan's loop CPU per message and per frame (--filter vhost. or vhost_can for one device)") { json, quick, filter, board2, guestBench };
        vhost.SetAction(r =>
        {
            string path = BoardFiles.Resolve(AmpCanConfiguration.Resolve(AmpCanConfiguration.Load(), r.GetValue(board2), null, null).Board);
            string dir = r.GetValue(guestBench) ?? FindGuestBench();
            if (!File.Exists(Path.Combine(dir, "run-guest.sh"))) throw new BenchmarkFailedException($"--guest-bench: no run-guest.sh in {dir}");
            var report = new VhostUserBench(Settings(r), Console.Error, dir, path).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(vhost);

        var can = new Command("can", "virtio-can over the sim board's vdev: round trip through the device to an echo on the virtual bus, throughput both ways, allocation, the paced bus") { json, quick, filter };
        can.SetAction(r =>
        {
            var report = new CanBench(Settings(r), Console.Error).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(can);

        Option<string?> board3 = CommonOptions.Board("Board whose remote is crashed and recovered (default: configuration AmpCan:Board, else sim)");
        var recovery = new Command("recovery", "Crash the simulated remote (on a thread, in a process) and time it from the crash seen to its channels answering again") { json, quick, filter, board3 };
        recovery.SetAction(r =>
        {
            string path = BoardFiles.Resolve(AmpCanConfiguration.Resolve(AmpCanConfiguration.Load(), r.GetValue(board3), null, null).Board);
            var report = new RecoveryBench(Settings(r), Console.Error, path).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(recovery);

        Option<string?> board4 = CommonOptions.Board("Board whose rpmsg device backs the files (default: configuration AmpCan:Board, else sim)");
        var chardev = new Command("rpmsg-char", "Echo round trip through an rpmsg_char file (FUSE) next to the in-process API and a socketpair floor, unpinned and pinned") { json, quick, filter, board4 };
        chardev.SetAction(r =>
        {
            string path = BoardFiles.Resolve(AmpCanConfiguration.Resolve(AmpCanConfiguration.Load(), r.GetValue(board4), null, null).Board);
            var report = new RpmsgCharBench(Settings(r), Console.Error, path).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(chardev);

        var devmem = new Command("device-memory", "What the device-memory policy costs: copies, a one-thread vring round trip and the fence, over normal memory and over device memory with system barriers") { json, quick, filter };
        devmem.SetAction(r =>
        {
            var report = new DeviceMemoryBench(Settings(r), Console.Error).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(devmem);
        return bench;
    }

    private static string FindGuestBench()
    {
        for (DirectoryInfo? d = new(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "virtio-vm");
            if (File.Exists(Path.Combine(candidate, "run-guest.sh"))) return candidate;
        }
        throw new BenchmarkFailedException("no tests/virtio-vm above the working directory: run from the checkout, or give --guest-bench");
    }
}
