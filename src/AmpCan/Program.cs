using System.CommandLine;
using AmpCan.Host.Bench;
using AmpCan.Host.Peers;

namespace AmpCan.Host;

/// <summary>The <c>ampcan</c> command line.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args) => BuildCommandLine().Parse(args).Invoke();

    /// <summary>Builds the command tree (separate for tests).</summary>
    public static RootCommand BuildCommandLine()
    {
        var root = new RootCommand("AmpCan: AMP IPC backend (shared memory, vrings, rpmsg, virtio-can, remoteproc) for the Linux master");

        var bench = new Command("bench", "Measure the stack; figures go to BENCHMARKS.md");
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding every figure and ratio" };
        var quick = new Option<bool>("--quick") { Description = "Short run (smoke test); figures are noisy" };
        var vring = new Command("vring", "Raw floors and split-vring round trip, throughput, allocation and idle CPU") { json, quick };
        vring.SetAction(r =>
        {
            var report = new VringBench(r.GetValue(quick) ? BenchSettings.Quick : new BenchSettings(), Console.Error).Run();
            report.WriteTable(Console.Out);
            if (r.GetValue(json)) report.WriteJson(Console.Out);
            return 0;
        });
        bench.Subcommands.Add(vring);
        root.Subcommands.Add(bench);

        var socket = new Option<string>("--socket") { Description = "UNIX socket to receive the memfd and doorbells from", Required = true };
        var peer = new Command("vring-peer", "Serve one virtqueue as an echo or sink device in this process (used by tests and benchmarks)") { socket };
        peer.Hidden = true;
        peer.SetAction(r => VringPeer.Run(r.GetValue(socket)!));
        root.Subcommands.Add(peer);
        return root;
    }
}
