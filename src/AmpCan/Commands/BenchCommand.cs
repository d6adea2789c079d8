using System.CommandLine;
using AmpCan.Host.Bench;
using AmpCan.Host.Service;

namespace AmpCan.Host.Commands;

/// <summary><c>ampcan bench vring|rpmsg</c>: the figures in BENCHMARKS.md.</summary>
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
        return bench;
    }
}
