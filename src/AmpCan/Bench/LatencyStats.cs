using System.Diagnostics;

namespace AmpCan.Host.Bench;

/// <summary>Latency samples in Stopwatch ticks, summarised in microseconds.</summary>
public readonly record struct LatencyStats(double MedianUs, double P99Us, double MeanUs, int Samples)
{
    /// <summary>Summarises <paramref name="ticks"/> (sorted in place).</summary>
    public static LatencyStats From(Span<long> ticks)
    {
        if (ticks.IsEmpty) return default;
        ticks.Sort();
        double scale = 1e6 / Stopwatch.Frequency;
        double sum = 0;
        foreach (long t in ticks) sum += t;
        return new LatencyStats(ticks[ticks.Length / 2] * scale, ticks[Math.Min(ticks.Length - 1, (int)(ticks.Length * 0.99))] * scale, sum / ticks.Length * scale, ticks.Length);
    }
}

/// <summary>One benchmark run's figures, printed as a table and, on request, as one JSON line.</summary>
public sealed class BenchReport
{
    private readonly List<(string Section, string Name, string Value)> _rows = [];

    /// <summary>Every figure by key, for the JSON line.</summary>
    public SortedDictionary<string, double> Figures { get; } = new(StringComparer.Ordinal);

    /// <summary>Records a figure under <paramref name="key"/> and a table row.</summary>
    public void Add(string section, string key, double value, string display)
    {
        Figures[key] = Math.Round(value, 4);
        _rows.Add((section, key, display));
    }

    /// <summary>Records a latency summary (median, p99, mean).</summary>
    public void AddLatency(string section, string key, LatencyStats s)
    {
        Figures[key + ".median_us"] = Math.Round(s.MedianUs, 4);
        Figures[key + ".p99_us"] = Math.Round(s.P99Us, 4);
        Figures[key + ".mean_us"] = Math.Round(s.MeanUs, 4);
        _rows.Add((section, key, $"median {s.MedianUs,9:F3} us   p99 {s.P99Us,9:F3} us   mean {s.MeanUs,9:F3} us   (n={s.Samples})"));
    }

    /// <summary>Writes the table, one block per section in the order sections first appeared.</summary>
    public void WriteTable(TextWriter w)
    {
        int width = _rows.Count == 0 ? 0 : _rows.Max(r => r.Name.Length);
        foreach (var section in _rows.GroupBy(r => r.Section))
        {
            w.WriteLine();
            w.WriteLine($"## {section.Key}");
            foreach (var (_, n, v) in section) w.WriteLine($"  {n.PadRight(width)}  {v}");
        }
        w.WriteLine();
    }

    /// <summary>Writes every figure as one JSON object on one line.</summary>
    public void WriteJson(TextWriter w) => w.WriteLine(System.Text.Json.JsonSerializer.Serialize(Figures, HostJsonContext.Default.SortedDictionaryStringDouble));
}
