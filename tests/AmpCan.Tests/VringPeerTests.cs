using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AmpCan.Host.Peers;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Tests.Host;

/// <summary>
/// <c>ampcan vring-peer</c> against a driver that gets things wrong: whatever it sends, the peer ends with one error
/// line and a non-zero exit, never an unhandled exception; and a sink peer reports exactly what it received.
/// </summary>
public class VringPeerTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private const ulong Base = 0x9000_0000, RegionSize = 0x40000;

    private static VringPeerParameters Good => new(RegionSize, Base, 0, 64, 4096, true, NotificationMode.Doorbell, VringPeerParameters.SinkRole);

    /// <summary>
    /// Descriptors open on the memfd and eventfds a test passes (the peer receives its own copies of them); other
    /// descriptors come and go with the test host's own threads.
    /// </summary>
    private static int OpenDescriptors(string memfdName) =>
        Directory.GetFiles("/proc/self/fd").Count(fd => new FileInfo(fd).LinkTarget is string t
            && (t == "anon_inode:[eventfd]" || t.StartsWith($"/memfd:{memfdName}", StringComparison.Ordinal)));

    /// <summary>Runs the peer in this process against a driver socket that <paramref name="driver"/> plays.</summary>
    private static (int Code, string Error) RunPeer(Action<Socket> driver, TimeSpan? parametersTimeout = null)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-peer-test-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var error = new StringWriter();
        try
        {
            Task<int> peer = Task.Run(() => VringPeer.Run(path, error, parametersTimeout ?? VringPeer.ParametersTimeout));
            // A synchronous accept: the asynchronous one would start the runtime's socket engine and its descriptors.
            Assert.That(listener.Poll(Limit, SelectMode.SelectRead), Is.True, "the peer connected");
            using (Socket s = listener.Accept())
            {
                driver(s);
                Assert.That(peer.Wait(Limit), Is.True, $"the peer ended: {error}");
            }
            return (peer.Result, error.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void SendParameters(Socket s, byte[] message, params int[] fds) => UnixFdChannel.Send(s, message, fds);

    private static byte[] Json(object parameters) => JsonSerializer.SerializeToUtf8Bytes(parameters);

    private static string WithField(string name, object value)
    {
        var doc = JsonSerializer.SerializeToNode(Good)!.AsObject();
        doc[name] = JsonSerializer.SerializeToNode(value);
        return doc.ToJsonString();
    }

    public static IEnumerable<TestCaseData> BadMessages()
    {
        TestCaseData Case(string message, string expected, string name, int fds = 3) =>
            new TestCaseData(message, fds, expected).SetName($"{{m}}({name})");
        yield return Case("not json", "parameters message is not valid", "NotJson");
        yield return Case("null", "JSON null", "Null");
        yield return Case(Encoding.UTF8.GetString(Json(Good)), "expected 3 descriptors", "TwoDescriptors", fds: 2);
        yield return Case(Encoding.UTF8.GetString(Json(Good)), "expected 3 descriptors", "NoDescriptors", fds: 0);
        yield return Case(WithField("Role", "mirror"), "Role = 'mirror'", "UnknownRole");
        yield return Case(WithField("QueueSize", 100), "QueueSize = 100", "QueueSizeNotAPowerOfTwo");
        yield return Case(WithField("Align", 3), "Align = 3", "BadAlign");
        yield return Case(WithField("RingOffset", RegionSize - 64), "RingOffset", "RingBeyondTheRegion");
        yield return Case(WithField("RingOffset", ulong.MaxValue), "RingOffset", "RingOffsetOverflows");
        yield return Case(WithField("DeviceAddress", ulong.MaxValue - 16), "DeviceAddress", "RegionBeyondTheAddressSpace");
        yield return Case(WithField("Mode", 7), "Mode = 7", "UndefinedMode");
        yield return Case(WithField("Cpu", 4096), "Cpu = 4096", "NoSuchCpu");
        yield return Case(WithField("RegionSize", 0x100000), "smaller than", "RegionLargerThanTheMemfd");
        yield return Case(WithField("Surprise", 1), "parameters message is not valid", "UnknownField");
        yield return Case("""{"RegionSize":262144}""", "parameters message is not valid", "MissingFields");
        yield return Case(Encoding.UTF8.GetString(Json(Good)).Replace("{", """{"QueueSize":64,""", StringComparison.Ordinal), "parameters message is not valid", "DuplicateField");
    }

    [TestCaseSource(nameof(BadMessages))]
    public void ABadParametersMessageIsOneLineAndExitOne(string message, int fdCount, string expected)
    {
        using var region = MappedRegion.CreateMemfd("peer-bad", RegionSize, Base);
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        using (ours)
        using (theirs)
        {
            int before = OpenDescriptors("peer-bad");
            int[] fds = new[] { region.FileDescriptor, theirs.RingFd, theirs.WaitFd }[..fdCount];
            var (code, error) = RunPeer(s => SendParameters(s, Encoding.UTF8.GetBytes(message), fds));
            Assert.That(code, Is.EqualTo(VringPeer.StartFailed), error);
            Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one line");
            Assert.That(error, Does.StartWith("vring-peer: ").And.Contain(expected));
            Assert.That(OpenDescriptors("peer-bad"), Is.EqualTo(before), "the descriptors that came with the message were closed");
        }
    }

    [Test]
    public void ADoorbellThatIsNotAnEventFdIsRefused()
    {
        using var region = MappedRegion.CreateMemfd("peer-bad-bell", RegionSize, Base);
        using var other = MappedRegion.CreateMemfd("not-a-doorbell", 4096);
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        using (ours)
        using (theirs)
        {
            var (code, error) = RunPeer(s => SendParameters(s, Json(Good), region.FileDescriptor, other.FileDescriptor, theirs.WaitFd));
            Assert.That(code, Is.EqualTo(VringPeer.StartFailed));
            Assert.That(error, Does.Contain("ring doorbell descriptor is not an eventfd").And.Contain("memfd:not-a-doorbell"));
        }
    }

    [Test]
    public void ADriverThatHangsUpBeforeTheParametersIsOneLine()
    {
        var (code, error) = RunPeer(s => s.Shutdown(SocketShutdown.Both));
        Assert.That(code, Is.EqualTo(VringPeer.StartFailed));
        Assert.That(error, Does.Contain("closed the socket before sending the parameters"));
    }

    [Test]
    public void ADriverThatSendsNothingIsGivenUpOn()
    {
        // The driver keeps the connection open and silent until the peer has ended.
        var (code, error) = RunPeer(_ => { }, parametersTimeout: TimeSpan.FromSeconds(1));
        Assert.That(code, Is.EqualTo(VringPeer.StartFailed));
        Assert.That(error, Does.Contain("sent no parameters within 1 s"));
    }

    [Test]
    public void ABadSocketPathIsOneLineAndANonZeroExit()
    {
        const string Path = "/nonexistent-ampcan-dir/peer.sock";
        var (code, _, error) = CommandLineTests.RunWithOutput("vring-peer", "--socket", Path);
        Assert.That(code, Is.EqualTo(VringPeer.StartFailed));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(error, Does.Contain(Path).And.Not.Contain(" at "));
    }

    [Test]
    public void ASinkPeerReportsExactlyWhatItReceived()
    {
        const int QueueSize = 64;
        const ulong Pool = 0x10000, Slot = 0x1000;
        using var region = MappedRegion.CreateMemfd("xproc-sink", RegionSize, Base);
        var ring = SplitRing.Legacy(region.Io.Slice(0, VringLayout.LegacySize(QueueSize, 4096)), QueueSize, 4096);
        var driver = new SplitVirtqueueDriver(ring, eventIndex: true);
        var (ours, theirs) = EventFdDoorbell.CreatePair();
        using var peer = VringPeerProcess.Start(CrossProcessVringTests.AmpcanDll, Good with { QueueSize = QueueSize }, region, theirs, TimeSpan.FromSeconds(60));
        theirs.Dispose();

        // Chains of one or two readable segments of random lengths and random bytes, each slot reused many times.
        const int Total = 50_000, Slots = 32;
        var random = new Random(9);
        var sent = new StreamDigest();
        var free = new Stack<int>(Enumerable.Range(0, Slots));
        long issued = 0, completed = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (completed < Total && DateTime.UtcNow < deadline)
        {
            while (driver.TryGetUsed(out UsedBuffer u))
            {
                free.Push(u.Token);
                completed++;
            }
            int added = 0;
            while (free.Count > 0 && issued < Total)
            {
                int slot = free.Pop();
                int[] lengths = Enumerable.Range(0, random.Next(1, 3)).Select(_ => random.Next(1, 1000)).ToArray();
                sent = RandomSinkChain.Add(driver, region.Io, Pool + (ulong)slot * Slot, lengths, slot, random, sent);
                issued++;
                added++;
            }
            if (added > 0 && driver.KickPrepare()) ours.Ring();
            if (completed < Total && !driver.EnableCallbacks()) ours.Wait(TimeSpan.FromSeconds(5));
        }

        VringPeerReport report = peer.Stop(TimeSpan.FromSeconds(30));
        Assert.Multiple(() =>
        {
            Assert.That(completed, Is.EqualTo(Total), "every chain came back");
            Assert.That(peer.ExitCode, Is.Zero);
            Assert.That(report.Chains, Is.EqualTo(sent.Payloads));
            Assert.That(report.Bytes, Is.EqualTo(sent.Bytes));
            Assert.That(report.Checksum, Is.EqualTo(sent.Value), "the peer's checksum of what it received is the driver's of what it sent");
        });
        ours.Dispose();
    }
}
