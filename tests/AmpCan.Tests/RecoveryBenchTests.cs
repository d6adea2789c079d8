using AmpCan.Host.Bench;

namespace AmpCan.Tests.Host;

/// <summary><c>ampcan bench recovery --quick</c> runs both cases and every figure it reports is a real, positive time.</summary>
[NonParallelizable]
public class RecoveryBenchTests
{
    [Test]
    public void AQuickRunTimesEveryCrashAndRecovery()
    {
        string board = Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json");
        var log = new StringWriter();
        BenchReport report = new RecoveryBench(BenchSettings.Quick, log, board).Run();
        foreach (string kind in new[] { "in_process", "process" })
            foreach (string key in new[] { "first_boot_ms", "detect_ms.median", "channels_back_ms.median", "channels_back_ms.max" })
                Assert.That(report.Figures.GetValueOrDefault($"recovery.{kind}.{key}", -1), Is.GreaterThan(0), $"recovery.{kind}.{key}; the bench said:\n{log}");
        Assert.That(report.Figures["recovery.in_process.channels_back_ms.max"], Is.LessThan(10_000), "a recovery with no back-off takes well under 10 s");
    }
}
