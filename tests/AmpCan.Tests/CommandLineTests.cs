using AmpCan.Host;

namespace AmpCan.Tests.Host;

public class CommandLineTests
{
    private static (int Code, string Error) Run(params string[] args)
    {
        var (code, _, err) = RunWithOutput(args);
        return (code, err);
    }

    /// <summary>Runs <c>ampcan</c> in this process with its console captured (the other test classes use it too).</summary>
    internal static (int Code, string Output, string Error) RunWithOutput(params string[] args)
    {
        TextWriter err = Console.Error, outw = Console.Out;
        var e = new StringWriter();
        var o = new StringWriter();
        Console.SetError(e);
        Console.SetOut(o);
        try { return (Program.Main(args), o.ToString(), e.ToString()); }
        finally
        {
            Console.SetError(err);
            Console.SetOut(outw);
        }
    }

    [Test]
    public void UnknownBoardIsNamed()
    {
        var (code, err) = Run("--board", "no-such-board");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(err, Does.Contain("no-such-board").And.Contain("not found"));
    }

    [Test]
    public void BadEnumValueListsTheChoices()
    {
        var (code, err) = Run("--remote", "quantum");
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain("'quantum'").And.Contain("simulated-process"));
    }

    [TestCase("--socket-count", "0", "--socket-count: 0 must be 1 to 64")]
    [TestCase("--socket-count", "65", "--socket-count: 65 must be 1 to 64")]
    [TestCase("--device", "gpio", "--device: 'gpio' is not one of rpmsg, can")]
    public void VhostUserRefusesBadArgumentsNamingThem(string option, string value, string said)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-vu-{Guid.NewGuid():N}.sock");
        string[] args = option == "--device" ? ["vhost-user", "-s", path, option, value] : ["vhost-user", "-s", path, "-d", "rpmsg", option, value];
        var (code, err) = Run(args);
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain(said));
        Assert.That(File.Exists(path), Is.False, "nothing was bound");
    }

    [TestCase("-d rpmsg --can-devices can0", "--can-devices: only with --device can")]
    [TestCase("-d can --can-devices \"can0 can1\"", "--can-devices: 2 interface(s) for 1 socket(s)")]
    [TestCase("-d can -c 2 --can-devices can0", "--can-devices: 1 interface(s) for 2 socket(s)")]
    [TestCase("-d can --can-devices a/b", "--can-devices: 'a/b' is not an interface name")]
    public void VhostUserRefusesCanDevicesThatDoNotFit(string options, string said)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-vu-{Guid.NewGuid():N}.sock");
        string[] args = ["vhost-user", "-s", path, .. System.Text.RegularExpressions.Regex.Matches(options, "\"[^\"]*\"|\\S+").Select(m => m.Value.Trim('"'))];
        var (code, err) = Run(args);
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain(said));
        Assert.That(File.Exists(path), Is.False, "nothing was bound");
    }

    [Test]
    public void VhostUserRefusesASocketPathThatIsAFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            var (code, err) = Run("vhost-user", "-s", path, "-d", "rpmsg");
            Assert.That(code, Is.EqualTo(1));
            Assert.That(err, Does.StartWith("ampcan: ").And.Contain(path).And.Contain("not a socket"));
            Assert.That(File.Exists(path), Is.True, "the file was left alone");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void UnknownOptionIsRefused()
    {
        var (code, err) = Run("bench", "vring", "--colour");
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain("--colour"));
    }

    [Test]
    public void MalformedBoardFileIsReportedWithTheField()
    {
        string f = Path.Combine(Path.GetTempPath(), $"bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(f, """{ "name": "x", "sharedMemory": { "kind": "memfd", "size": "lots" }, "rpmsg": { "bufferPoolOffset": 0 }, "doorbell": { "kind": "event-fd" } }""");
        try
        {
            var (code, err) = Run("remote-sim", "--board", f);
            Assert.That(code, Is.EqualTo(1));
            Assert.That(err, Does.Contain("'lots' is not a number").And.Contain(f));
        }
        finally { File.Delete(f); }
    }

    [Test]
    public void EchoTestChecksEverySizeAgainstTheSimulatedRemote()
    {
        var (code, output, err) = RunWithOutput("echo-test", "--board", "sim", "--count", "600");
        Assert.That(code, Is.Zero, output + err);
        Assert.That(output, Does.Contain("600 messages of 1..496 bytes, 0 errors"));
    }

    [Test]
    public void EchoTestNamesAMissingChannel()
    {
        string f = Path.Combine(Path.GetTempPath(), $"sim-{Guid.NewGuid():N}.json");
        File.WriteAllText(f, """
            { "name": "sim-short", "sharedMemory": { "kind": "memfd", "size": "0x100000", "deviceAddress": "0x30000000" },
              "resourceTable": { "offset": "0x0", "size": "0x1000" }, "rpmsg": { "bufferPoolOffset": "0x10000" },
              "doorbell": { "kind": "event-fd" }, "remote": { "kind": "simulated", "startTimeoutSeconds": 1 } }
            """);
        try
        {
            var (code, output, _) = RunWithOutput("echo-test", "--board", f, "--channel", "no-such-service");
            Assert.That(code, Is.EqualTo(2));
            Assert.That(output, Does.Contain("no channel 'no-such-service'").And.Contain("rpmsg-echo"));
        }
        finally { File.Delete(f); }
    }

    [Test]
    public void EchoTestRefusesAZeroCount()
    {
        var (code, err) = Run("echo-test", "--count", "0");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(err, Does.Contain("--count"));
    }

    [TestCase("NaN")]
    [TestCase("Infinity")]
    [TestCase("1e300")]
    [TestCase("-1")]
    public void AReplyLatencyThatIsNoNumberOfMillisecondsIsRefused(string value)
    {
        var (code, err) = Run("remote-sim", "--reply-latency-ms", value);
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain("--reply-latency-ms").And.Contain("must be 0 to 60000"));
        Assert.That(err, Does.Not.Contain("   at "), "one line, no stack trace");
    }

    [Test]
    public void EchoTestWithMoreBuffersThanTheRingIsOneLine()
    {
        string f = Path.Combine(Path.GetTempPath(), $"sim-{Guid.NewGuid():N}.json");
        File.WriteAllText(f, """
            { "name": "too-many", "sharedMemory": { "kind": "memfd", "size": "0x200000", "deviceAddress": "0x30000000" },
              "rpmsg": { "bufferPoolOffset": "0x10000", "txBuffers": 1000 }, "doorbell": { "kind": "event-fd" } }
            """);
        try
        {
            var (code, err) = Run("echo-test", "--board", f, "--count", "1");
            Assert.That(code, Is.EqualTo(1));
            Assert.That(err, Does.Contain("1000 transmit buffers do not fit vq1, a ring of 256 entries").And.Not.Contain("   at "));
        }
        finally { File.Delete(f); }
    }
}
