namespace AmpCan.Tests.Host;

/// <summary>
/// RpmsgCharCasePrograms on this machine, without any rpmsg file: both programs refuse to start cleanly where there is no
/// rpmsg_ctrl*, run to their end and print the same bytes against files that are no rpmsg_char files at all, and the
/// comparison with the kernel's transcript names the lines that differ.
/// </summary>
[TestFixture, NonParallelizable]
public class RpmsgCharCaseProgramsTests
{
    private string _dir = null!;

    [SetUp]
    public void MakeADirectory()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan-rpmsg-cases-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void RemoveIt() => Directory.Delete(_dir, recursive: true);

    [TestCase(RpmsgCharCasePrograms.Program.C)]
    [TestCase(RpmsgCharCasePrograms.Program.Python)]
    public void WithoutAControlFileTheProgramCouldNotStartAndSaysWhy(RpmsgCharCasePrograms.Program program)
    {
        var outcome = RpmsgCharCasePrograms.Run(program, _dir, TimeSpan.FromSeconds(30));
        Assert.That(outcome.ExitCode, Is.EqualTo(RpmsgCharCasePrograms.CouldNotStart), outcome.Stderr);
        Assert.That(outcome.Transcript, Is.Empty);
        Assert.That(outcome.Stderr, Does.Contain($"could not start: no rpmsg_ctrl* in {_dir}"));
    }

    [TestCase(RpmsgCharCasePrograms.Program.C)]
    [TestCase(RpmsgCharCasePrograms.Program.Python)]
    public void ABadArgumentIsCouldNotStartToo(RpmsgCharCasePrograms.Program program)
    {
        var outcome = RpmsgCharCasePrograms.Run(program, _dir, TimeSpan.FromSeconds(30), destination: 0xFFFFFFFF);
        Assert.That(outcome.ExitCode, Is.EqualTo(RpmsgCharCasePrograms.CouldNotStart), outcome.Stderr);
        Assert.That(outcome.Stderr, Does.Contain("--dst wants an address"));
    }

    [Test]
    public void AgainstPlainFilesBothProgramsRunToTheEndPrintTheSameBytesAndTheDiffNamesWhatTheKernelAnsweredOtherwise()
    {
        // A regular rpmsg_ctrl0 answers every ioctl ENOTTY, so no endpoint file ever appears: every step has an answer,
        // none of them the kernel's, and the script still runs through, the crash part included.
        File.WriteAllText(Path.Combine(_dir, "rpmsg_ctrl0"), "");
        File.WriteAllText(Path.Combine(_dir, "rpmsg7"), "");
        string crashed = Path.Combine(_dir, "crashed"), recovered = Path.Combine(_dir, "recovered");
        var outcomes = Enum.GetValues<RpmsgCharCasePrograms.Program>().ToDictionary(p => p, p =>
            RpmsgCharCasePrograms.Run(p, _dir, TimeSpan.FromSeconds(60), crashCommand: $"echo crash >> '{crashed}'", recoverCommand: $"echo recover >> '{recovered}'"));
        var c = outcomes[RpmsgCharCasePrograms.Program.C];
        var python = outcomes[RpmsgCharCasePrograms.Program.Python];
        Assert.That(c.ExitCode, Is.Zero, c.Stderr);
        Assert.That(python.ExitCode, Is.Zero, python.Stderr);
        Assert.That(RpmsgCharCasePrograms.Difference(c.Transcript, python.Transcript), Is.Null, "C and Python print the same bytes");
        Assert.That(File.ReadAllText(crashed), Is.EqualTo("crash\ncrash\n"), "each program ran the crash command once");
        Assert.That(File.ReadAllText(recovered), Is.EqualTo("recover\nrecover\n"), "and the recover command once");

        int kernelSteps = RpmsgCharCasePrograms.Expected().Split('\n').Count(l => l.StartsWith("STEP ", StringComparison.Ordinal));
        Assert.That(c.Transcript, Does.EndWith($"SUMMARY steps={kernelSteps}\n"), "the same steps as the kernel's script");
        Assert.That(c.Transcript, Does.Contain("STEP crash-cmd ret=0\n"));
        string? diff = RpmsgCharCasePrograms.Difference(c.Transcript);
        Assert.That(diff, Is.Not.Null);
        Assert.That(diff, Does.Contain("- STEP create-ept ret=0\n").And.Contain("+ STEP create-ept errno=ENOTTY\n"));
        Assert.That(diff, Does.Not.Contain("STEP open-ctrl ok"), "lines that agree are not in the diff");
    }

    [Test]
    public void AnEndpointThatNeverAnswersCostsAWatchdogPerBlockedCallNotAHang()
    {
        // When no endpoint file appears the programs open DIR/rpmsg-none (so that open answers ENOENT); a FIFO there
        // echoes what is written and blocks a read when empty, as an endpoint whose remote went silent would. Both
        // programs run at once: each watchdog costs its 10 s.
        var runs = Enum.GetValues<RpmsgCharCasePrograms.Program>().Select(p =>
        {
            string dir = Path.Combine(_dir, p.ToString());   // a FIFO each: they must not read each other's bytes
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "rpmsg_ctrl0"), "");
            Assert.That(Mkfifo(Path.Combine(dir, "rpmsg-none"), Convert.ToUInt32("600", 8)), Is.Zero, "mkfifo");
            return Task.Run(() => RpmsgCharCasePrograms.Run(p, dir, TimeSpan.FromSeconds(100), crashCommand: "true", recoverCommand: "true"));
        }).ToArray();
        Task.WaitAll(runs);
        var c = runs[0].Result;
        var python = runs[1].Result;
        Assert.That(c.ExitCode, Is.Zero, c.Stderr);
        Assert.That(python.ExitCode, Is.Zero, python.Stderr);
        // Except crash-poll: the reader left behind in its read (by both) races the poll for the bytes crash-write sent.
        static string WithoutTheRace(string t) => string.Concat(t.Split('\n').Where(l => !l.StartsWith("STEP crash-poll ", StringComparison.Ordinal)).Select(l => l + "\n"));
        Assert.That(RpmsgCharCasePrograms.Difference(WithoutTheRace(c.Transcript), WithoutTheRace(python.Transcript)), Is.Null, "C and Python print the same bytes");
        Assert.That(c.Transcript, Does.Contain("STEP crash-reader-blocked ok\n").And.Contain("STEP read-destroyed watchdog\n")
            .And.Contain("STEP crash-blocked-read watchdog\n").And.Contain("STEP crash-read watchdog\n"));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int Mkfifo(string path, uint mode);

    [Test]
    public void TheKernelsTranscriptIsComparedLineByLine()
    {
        string expected = RpmsgCharCasePrograms.Expected();
        Assert.That(RpmsgCharCasePrograms.Difference(expected), Is.Null);
        string oneErrno = expected.Replace("STEP open-ept-again errno=EBUSY\n", "STEP open-ept-again ok\n", StringComparison.Ordinal);
        Assert.That(oneErrno, Is.Not.EqualTo(expected), "expected.txt has the second open's EBUSY");
        Assert.That(RpmsgCharCasePrograms.Difference(oneErrno), Does.EndWith(":\n- STEP open-ept-again errno=EBUSY\n+ STEP open-ept-again ok\n"));
        Assert.That(RpmsgCharCasePrograms.ExpectedProvenance(), Does.StartWith("# Linux "));
    }
}
