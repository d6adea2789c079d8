using System.Text.Json;
using System.Text.Json.Nodes;

namespace AmpCan.Tests.Host;

/// <summary>
/// The <c>ampcan</c> service's CAN end to end inside a real kernel: Debian's kernel under QEMU (tests/kernel-vm) runs
/// tests/kernel-vm/can-service.sh once, which starts the service on the sim board with its simulated remote sharing
/// can0 straight on vcan0 and can1 on an in-process bus bridged to vcan1 (AmpCan's controllers: it serves their
/// devices, the remote drives them), and can2, the remote's own controller (the reverse topology: the remote serves the
/// device with an ECU on its bus, AmpCan drives it and bridges it onto vcan2), and talks to the remote's CAN nodes with
/// can-utils. Each test reads what the guest said. Skipped, with the reason, when QEMU or the Debian kernel is missing.
/// </summary>
[TestFixture, Category("KernelVm"), NonParallelizable]
public class CanServiceGuestTests
{
    private const int FloodCount = 3000;
    private readonly Dictionary<string, string> _results = new();
    private readonly List<string> _vcan0 = [], _vcan1 = [], _vcan2 = [], _service = [];
    private string _output = "", _summary = "";
    private string? _dir;

    [OneTimeSetUp]
    public void RunTheServiceInTheGuest()
    {
        KernelVmHarness.Prepare("the CAN service guest tests");
        _dir = Directory.CreateTempSubdirectory("ampcan-can-service-").FullName;
        string board = Path.Combine(_dir, "sim-three-can.json");
        File.WriteAllText(board, ThreeControllerBoard());
        string[] guest = KernelVmHarness.InGuest([_dir], [], Path.Combine(KernelVmHarness.ScriptDirectory, "can-service.sh"), CrossProcessVringTests.AmpcanDll, board);
        Dictionary<string, string> environment = KernelVmHarness.GuestEnvironment();
        environment["RIK_TIMEOUT"] = "480"; // one boot for every check: about 2 minutes, more under a loaded host
        var run = KernelVmHarness.Run(guest[0], guest[1..], TimeSpan.FromMinutes(9), environment: environment);
        KernelVmHarness.AssertGuestRan(run);
        _output = run.Out + run.Err;
        foreach (string raw in run.Out.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            string[] w = line.Split(' ', 3);
            if (w.Length == 3 && w[0] == "RESULT") _results[w[1]] = w[2].Trim();
            if (line.StartsWith("VCAN0 ", StringComparison.Ordinal)) _vcan0.Add(line[6..]);
            else if (line.StartsWith("VCAN1 ", StringComparison.Ordinal)) _vcan1.Add(line[6..]);
            else if (line.StartsWith("VCAN2 ", StringComparison.Ordinal)) _vcan2.Add(line[6..]);
            else if (line.StartsWith("SERVICE ", StringComparison.Ordinal)) _service.Add(line[8..]);
        }
        // Everything but the flood's lines: what a failure message shows.
        _summary = string.Join('\n', run.Out.Split('\n').Where(l => !l.StartsWith("VCAN0 002#", StringComparison.Ordinal) && !l.StartsWith("VCAN0 003#", StringComparison.Ordinal)))
                   + "\n" + run.Err;
        TestContext.Progress.WriteLine($"CAN service guest said:\n{_summary}");
        Assert.That(run.Code, Is.Zero, $"the guest script failed:\n{_summary}");
    }

    [OneTimeTearDown]
    public void RemoveTheBoard()
    {
        if (_dir is not null) Directory.Delete(_dir, recursive: true);
    }

    // The sim board (its memory, doorbells, simulated remote) with three controllers: can0 on SocketCAN's vcan0, can1 on
    // an in-process bus bridged to vcan1, and can2 the remote's, bridged by AmpCan's driver onto vcan2. The firmware puts
    // controller i's area (vrings, its own driver's buffers) at 0x60000 + 0x20000 i, up to 0xC0000 for three: AmpCan's
    // driver buffers for can2 go right after (0xC0000 + 0xA810 for 256-entry rings), inside the board's 1 MiB.
    private static string ThreeControllerBoard()
    {
        string sim = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        JsonNode board = JsonNode.Parse(sim, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        board["name"] = "sim-three-can";
        // Under TCG a spinning loop takes a whole emulated CPU from the can-utils the checks run: the loops sleep in epoll.
        board["notification"] = JsonNode.Parse("{ \"mode\": \"doorbell\" }");
        board["can"] = JsonNode.Parse("""
            {
              "controllers": [
                { "name": "can0", "interface": "vcan0" },
                { "name": "can1", "bus": "bridged" },
                { "name": "can2", "owner": "remote", "interface": "vcan2", "bufferOffset": "0xC0000" }
              ],
              "buses": [ { "name": "bridged", "interface": "vcan1" } ]
            }
            """);
        return board.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private void AssertPassed(string check) =>
        Assert.That(_results.GetValueOrDefault(check, "missing"), Does.StartWith("pass"), $"check {check}; the guest said:\n{_summary}");

    private void AssertOn(List<string> dump, params string[] lines)
    {
        foreach (string l in lines) Assert.That(dump, Does.Contain(l), $"candump line '{l}'; the guest said:\n{_summary}");
    }

    /// <summary>The remote's heartbeats: node 1 (can0) at 0x701 on vcan0 only, node 2 (can1) at 0x702 on vcan1 only, each from counter 0.</summary>
    [Test]
    public void EachControllersHeartbeatIsOnItsOwnInterface()
    {
        AssertPassed("heartbeat-vcan0");
        AssertPassed("heartbeat-vcan1");
        AssertOn(_vcan0, "vcan0 701#00", "vcan0 701#01");
        AssertOn(_vcan1, "vcan1 702#00", "vcan1 702#01");
        Assert.That(_vcan0, Has.None.StartsWith("vcan0 702#"), "can1's heartbeat stays off vcan0");
        Assert.That(_vcan1, Has.None.StartsWith("vcan1 701#"), "can0's heartbeat stays off vcan1");
    }

    /// <summary>
    /// Classic, FD, RTR and LATE_TX_ACK negotiated on every controller: by the remote's driver with AmpCan's devices
    /// (can0, can1), and by AmpCan's driver with the remote's device (can2, whose device the remote names remote-can2).
    /// </summary>
    [Test]
    public void EveryControllerNegotiatesLateTxAck()
    {
        string[] ready = [.. _service.Where(l => l.Contains(": driver ready, features 0x", StringComparison.Ordinal) && (Features(l) & 0xF) == 0xF)];
        foreach (string device in new[] { "can0", "can1", "remote-can2" })
            Assert.That(ready, Has.One.Contains($" {device}: driver ready, features 0x"), $"'{device}: driver ready' with features 0xF; the service said:\n{string.Join('\n', _service)}");
        Assert.That(_service, Has.One.Match(@" can2: DRIVER_OK, features 0x[0-9a-f]*f, "), "AmpCan's driver of can2 set DRIVER_OK with the four CAN features");
        Assert.That(_service, Has.One.EndsWith(" can2: controller started"), "AmpCan's keeper STARTed can2 once (no bus-off, no restart)");
    }

    private static ulong Features(string line) =>
        Convert.ToUInt64(line[(line.IndexOf("features 0x", StringComparison.Ordinal) + 11)..].Split(' ')[0], 16);

    /// <summary>cansend vcan0 120#0102 is answered 121#0102 on vcan0; the odd 123#01 is not answered.</summary>
    [Test]
    public void ACansendOnVcan0IsAnsweredOnVcan0()
    {
        AssertPassed("classic");
        AssertOn(_vcan0, "vcan0 120#0102", "vcan0 121#0102", "vcan0 123#01");
        Assert.That(_vcan0, Has.None.StartsWith("vcan0 124#"), "an odd identifier is never answered");
    }

    /// <summary>A 64-byte FD frame is answered as FD with the same data (without BRS: virtio-can has no flag for it).</summary>
    [Test]
    public void AnFdFrameIsAnsweredAsFd()
    {
        AssertPassed("fd");
        string data = string.Concat(Enumerable.Range(0, 64).Select(i => i.ToString("X2")));
        AssertOn(_vcan0, $"vcan0 126##5{data}", $"vcan0 127##4{data}"); // candump -L shows FD flags with FDF: BRS 5, none 4
    }

    /// <summary>A 29-bit identifier is answered with the next 29-bit identifier.</summary>
    [Test]
    public void AnExtendedFrameIsAnswered()
    {
        AssertPassed("extended");
        AssertOn(_vcan0, "vcan0 12345678#DEADBEEF", "vcan0 12345679#DEADBEEF");
    }

    /// <summary>can1's in-process bus bridged to vcan1: cansend vcan1 130#AA is answered there, and nothing of it reaches vcan0.</summary>
    [Test]
    public void TheBridgedBusIsAnsweredOnVcan1Only()
    {
        AssertPassed("bridged");
        AssertOn(_vcan1, "vcan1 130#AA", "vcan1 131#AA");
        Assert.That(_vcan0.Where(l => l.StartsWith("vcan0 13", StringComparison.Ordinal)), Is.Empty, "the two controllers are separate");
    }

    /// <summary>ip link set vcan0 down, a second, up: the service says both, and the remote is answered again afterwards.</summary>
    [Test]
    public void TheServiceSaysVcan0WentDownAndServesItAgainWhenUp()
    {
        AssertPassed("down-up");
        AssertOn(_vcan0, "vcan0 140#03", "vcan0 141#03");
        int down = _service.FindIndex(l => l.Contains("vcan0: the interface is down", StringComparison.Ordinal));
        Assert.That(down, Is.GreaterThanOrEqualTo(0), "the service said vcan0 is down");
        Assert.That(_service.Skip(down).Any(l => l.Contains("vcan0: the interface is up", StringComparison.Ordinal)), Is.True, "then that it is up");
    }

    /// <summary>
    /// LATE_TX_ACK under load: while cangen floods vcan0 with 3,000 questions (0x002, an 8-byte counter each), the
    /// service stays up; every answer on vcan0 (0x003) carries a question's data, none twice, in the questions' order,
    /// and after the flood the remote is answered again (its transmit queue was not left full of unconfirmed frames).
    /// </summary>
    [Test]
    public void UnderAFloodEveryAnswerIsOnVcan0OnceAndInOrder()
    {
        AssertPassed("after-flood");
        AssertPassed("service-up");
        List<string> questions = [.. _vcan0.Where(l => l.StartsWith("vcan0 002#", StringComparison.Ordinal)).Select(l => l[10..])];
        List<string> answers = [.. _vcan0.Where(l => l.StartsWith("vcan0 003#", StringComparison.Ordinal)).Select(l => l[10..])];
        TestContext.Progress.WriteLine($"flood: {questions.Count} questions, {answers.Count} answers on vcan0");
        Assert.That(questions, Has.Count.EqualTo(FloodCount), "candump saw every question (it counts drops with -d)");
        Assert.That(questions, Is.Unique);
        Assert.That(answers, Is.Unique, "no answer twice");
        Dictionary<string, int> order = questions.Select((q, i) => (q, i)).ToDictionary(p => p.q, p => p.i);
        Assert.That(answers.Where(a => !order.ContainsKey(a)), Is.Empty, "every answer carries a question's data");
        Assert.That(answers.Select(a => order[a]), Is.Ordered, "answers in the order of their questions");
        Assert.That(answers.Count, Is.GreaterThan(0), "the remote answered during the flood");
    }

    // The identifier of a candump -L line ("vcan2 123#01" -> "123").
    private static string Id(string line) => line[(line.IndexOf(' ', StringComparison.Ordinal) + 1)..line.IndexOf('#', StringComparison.Ordinal)];

    // An error frame as candump -L prints it: eight hex digits with CAN_ERR_FLAG (0x20000000), which no 29-bit identifier has.
    private static bool IsErrorFrame(string line) => Id(line) is { Length: 8 } id && (Convert.ToUInt32(id, 16) & 0x20000000) != 0;

    /// <summary>
    /// The reverse topology's heartbeat: the ECU on the remote's own bus (node 3, 0x703) beats on vcan2 through AmpCan's
    /// driver, one counter after another; it is on vcan2 only, and can0's and can1's heartbeats never reach vcan2.
    /// </summary>
    [Test]
    public void TheRemotesEcuBeatsOnVcan2Only()
    {
        AssertPassed("heartbeat-vcan2");
        int[] counters = [.. _vcan2.Where(l => l.StartsWith("vcan2 703#", StringComparison.Ordinal)).Select(l => Convert.ToInt32(l[10..], 16))];
        Assert.That(counters, Has.Length.GreaterThanOrEqualTo(10), $"heartbeats for the whole run; the guest said:\n{_summary}");
        Assert.That(counters.Zip(counters.Skip(1), (a, b) => (b - a) & 0xFF), Is.All.EqualTo(1), "each beat once, none lost on the way (the controller never stopped)");
        Assert.That(_vcan0.Concat(_vcan1).Where(l => Id(l) == "703"), Is.Empty, "can2's heartbeat stays off vcan0 and vcan1");
        Assert.That(_vcan2.Where(l => Id(l) is "701" or "702"), Is.Empty, "can0's and can1's heartbeats stay off vcan2");
    }

    /// <summary>
    /// cansend vcan2 160#05 goes Linux, vcan2, AmpCan's driver, the remote's virtio-can device, the remote's bus, its ECU,
    /// and the answer 161#05 comes back the same way onto vcan2; so does a 29-bit frame (01ABCDE0#0708 answered 01ABCDE1).
    /// </summary>
    [Test]
    public void ACansendOnVcan2ReachesTheRemotesEcuAndItsAnswerComesBack()
    {
        AssertPassed("remote-classic");
        AssertPassed("remote-extended");
        AssertOn(_vcan2, "vcan2 160#05", "vcan2 161#05", "vcan2 01ABCDE0#0708", "vcan2 01ABCDE1#0708");
        Assert.That(_vcan2.Count(l => l == "vcan2 161#05"), Is.EqualTo(1), "answered once: AmpCan's driver did not hand the answer back to the remote, nor the bridge twice");
    }

    /// <summary>A 64-byte FD frame on vcan2 crosses the remote's controller (FD negotiated with its device) and is answered as FD with the same data, without BRS.</summary>
    [Test]
    public void AnFdFrameCrossesTheRemotesControllerBothWays()
    {
        AssertPassed("remote-fd");
        string data = string.Concat(Enumerable.Range(0, 64).Select(i => i.ToString("X2")));
        AssertOn(_vcan2, $"vcan2 166##5{data}", $"vcan2 167##4{data}");
    }

    /// <summary>
    /// vcan2 carries can2's traffic and nothing else (its ECU's heartbeat, the questions asked there and their answers,
    /// the error frame written there); none of it reaches vcan0 or vcan1.
    /// </summary>
    [Test]
    public void Can2sTrafficStaysOnVcan2()
    {
        string[] can2 = ["703", "160", "161", "166", "167", "168", "169", "01ABCDE0", "01ABCDE1", "20000040"];
        Assert.That(_vcan2.Where(l => !can2.Contains(Id(l))), Is.Empty, $"only can2's frames on vcan2; the guest said:\n{_summary}");
        Assert.That(_vcan0.Concat(_vcan1).Where(l => can2.Contains(Id(l))), Is.Empty, "none of can2's frames on vcan0 or vcan1");
    }

    /// <summary>
    /// candump takes error frames on vcan2 (where a bus-off of the remote's controller would show): the one error frame
    /// there is the bus-off another program wrote (the remote reported none), and it did not cross to the remote's
    /// controller: can2 answers after it, with no restart.
    /// </summary>
    [Test]
    public void AnErrorFrameWrittenOnVcan2IsCapturedAndDoesNotStopCan2()
    {
        AssertPassed("error-capture");
        AssertPassed("remote-after-error");
        Assert.That(_vcan2.Where(IsErrorFrame), Is.EqualTo(new[] { "vcan2 20000040#0000000000000000" }), "the written bus-off, and no error frame from the remote");
        int error = _vcan2.IndexOf("vcan2 20000040#0000000000000000");
        Assert.That(_vcan2.Skip(error), Has.Member("vcan2 168#06").And.Member("vcan2 169#06"), "asked and answered after it");
        // The keeper's words after a bus-off (VirtioCanControllerKeeper): it restarts the controller or leaves it stopped.
        Assert.That(_service.Where(l => l.Contains(" can2: ", StringComparison.Ordinal)
                                        && (l.EndsWith("; the controller stays stopped", StringComparison.Ordinal) || l.Contains("; starting the controller again in ", StringComparison.Ordinal))),
            Is.Empty, "AmpCan's keeper of can2 saw no bus-off");
    }
}
