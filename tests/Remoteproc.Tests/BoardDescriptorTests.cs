using System.Text.Json.Nodes;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.Remoteproc;

public class BoardDescriptorTests
{
    private static string BoardFile(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", name);

    [Test]
    public void ShippedBoardsLoad()
    {
        BoardDescriptor sim = BoardDescriptor.Load(BoardFile("sim.json"));
        BoardDescriptor openamp = BoardDescriptor.Load(BoardFile("openamp-linux.json"));
        Assert.Multiple(() =>
        {
            Assert.That(sim.SharedMemory.Kind, Is.EqualTo(SharedMemoryKind.Memfd));
            Assert.That(sim.SharedMemory.Size, Is.EqualTo(0x100000UL));
            Assert.That(sim.Doorbell.Kind, Is.EqualTo(DoorbellKind.EventFd));
            Assert.That(sim.Notification.Mode, Is.EqualTo(NotificationMode.Adaptive));
            Assert.That(openamp.SharedMemory.Path, Is.EqualTo("/dev/shm/openamp.shm"));
            Assert.That(openamp.SharedMemory.Size, Is.EqualTo(0x80000UL));
            Assert.That(openamp.Doorbell.Path, Is.EqualTo("/tmp/openamp.event.0"));
            Assert.That(openamp.Remote.Kind, Is.EqualTo(RemoteKind.External));
        });
    }

    private const string Good = """
        { "name": "b", "sharedMemory": { "kind": "memfd", "size": "0x100000" },
          "rpmsg": { "bufferPoolOffset": "0x10000" }, "doorbell": { "kind": "event-fd" } }
        """;

    [TestCase("\"size\": \"0x100000\"", "\"size\": \"0x10zz\"", "'0x10zz' is not a number")]
    [TestCase("\"kind\": \"memfd\"", "\"kind\": \"ramdisk\"", "$.sharedMemory.kind")]
    [TestCase("\"name\": \"b\",", "\"name\": \"b\", \"colour\": 1,", "colour")]
    [TestCase("\"name\": \"b\",", "", "name")]
    [TestCase("\"bufferPoolOffset\": \"0x10000\"", "\"bufferPoolOffset\": \"0xF0000\"", "rpmsg.bufferPoolOffset")]
    [TestCase("\"kind\": \"event-fd\"", "\"kind\": \"unix-socket\"", "doorbell.path")]
    [TestCase("\"size\": \"0x100000\"", "\"size\": 0", "sharedMemory.size")]
    public void BadBoardFilesNameTheField(string from, string to, string expected)
    {
        var e = Assert.Throws<BoardException>(() => BoardDescriptor.Parse(Good.Replace(from, to, StringComparison.Ordinal), "test.json"))!;
        Assert.That(e.Message, Does.Contain("test.json").And.Contain(expected));
    }

    // Every field, each with an ordinary value, for the range tests to change one at a time.
    private const string Full = """
        { "name": "b", "description": "d",
          "sharedMemory": { "kind": "memfd", "size": "0x100000", "deviceAddress": "0x30000000", "physicalAddress": "0x0", "uioDevice": 0, "uioMap": 0 },
          "resourceTable": { "offset": "0x0", "size": "0x1000" },
          "rpmsg": { "bufferPoolOffset": "0x10000", "rxBuffers": 256, "txBuffers": 256, "bufferSize": 512 },
          "doorbell": { "kind": "event-fd", "uioDevice": 0, "mailboxOffset": "0x0", "mailboxMap": 1, "mailboxValue": "0x0", "mailboxNotifyIdShift": -1 },
          "remote": { "kind": "simulated", "services": { "echo": "rpmsg-echo" }, "startTimeoutSeconds": 30 },
          "notification": { "mode": "adaptive", "spinMicroseconds": 50 } }
        """;

    /// <summary><see cref="Full"/> with the fields at the given dotted paths set to the given JSON values.</summary>
    private static string With(params (string Path, string Json)[] changes)
    {
        JsonNode root = JsonNode.Parse(Full)!;
        foreach ((string path, string json) in changes)
        {
            string[] parts = path.Split('.');
            JsonNode parent = parts[..^1].Aggregate(root, (n, p) => n[p]!);
            parent[parts[^1]] = JsonNode.Parse(json);
        }
        return root.ToJsonString();
    }

    private static string Refused(params (string Path, string Json)[] changes) =>
        Assert.Throws<BoardException>(() => BoardDescriptor.Parse(With(changes), "test.json"))!.Message;

    [Test]
    public void EveryFieldOfTheFullTemplateIsAccepted()
    {
        BoardDescriptor b = BoardDescriptor.Parse(Full, "test.json");
        Assert.That((b.SharedMemory.DeviceAddress, b.Doorbell.MailboxMap, b.Remote.StartTimeoutSeconds), Is.EqualTo((0x30000000UL, 1, 30.0)));
    }

    // Values at the edge of each range are accepted, so the checks below refuse only what is out of range.
    [TestCase("sharedMemory.deviceAddress", "\"0xFC000000\"")]          // the 64 MiB window ends exactly at 4 GiB
    [TestCase("rpmsg.rxBuffers", "32768")]
    [TestCase("rpmsg.bufferSize", "56")]
    [TestCase("rpmsg.bufferSize", "65551")]
    [TestCase("remote.startTimeoutSeconds", "86400")]
    [TestCase("notification.spinMicroseconds", "0.1")]
    [TestCase("doorbell.mailboxNotifyIdShift", "31")]
    [TestCase("doorbell.mailboxValue", "\"0xFFFFFFFF\"")]
    [TestCase("remote.services.echo", "\"a-31-byte-name-0123456789abcdef\"")]
    public void EdgesOfEachRangeAreAccepted(string path, string json) =>
        Assert.DoesNotThrow(() => BoardDescriptor.Parse(With((path, json), ("rpmsg.bufferPoolOffset", "\"0x1000\""), ("sharedMemory.size", "\"0x4000000\"")), "test.json"));

    [TestCase("sharedMemory.deviceAddress", "\"0x100000000\"", "[0x100000000, 0x100100000) ends above 4 GiB")]
    [TestCase("sharedMemory.deviceAddress", "\"0xFFF80000\"", "[0xfff80000, 0x100080000) ends above 4 GiB")]
    [TestCase("sharedMemory.deviceAddress", "\"0xFFFFFFFFFFFFFFFF\"", "ends above 4 GiB")]
    [TestCase("sharedMemory.physicalAddress", "\"0xFFFFFFFFFFFFF000\"", "wraps")]
    [TestCase("sharedMemory.uioMap", "5", "0 to 4")]
    [TestCase("sharedMemory.uioDevice", "-1", "-1 must not be negative")]
    [TestCase("remote.startTimeoutSeconds", "1e300", "1E+300 must be 0.001 to 86400")]
    [TestCase("remote.startTimeoutSeconds", "1e400", "Infinity must be")]
    [TestCase("remote.startTimeoutSeconds", "0", "0 must be")]
    [TestCase("remote.startTimeoutSeconds", "-1", "-1 must be")]
    [TestCase("notification.spinMicroseconds", "1e300", "1E+300 must be 0.1 to 1000000")]
    [TestCase("notification.spinMicroseconds", "0", "0 must be")]
    [TestCase("notification.spinMicroseconds", "-5", "-5 must be")]
    [TestCase("rpmsg.rxBuffers", "0", "0 must be 1 to 32768")]
    [TestCase("rpmsg.txBuffers", "32769", "32769 must be 1 to 32768")]
    [TestCase("rpmsg.txBuffers", "-1", "-1 must be 1 to 32768")]
    [TestCase("rpmsg.bufferSize", "55", "55 must be 56 to 65551")]
    [TestCase("rpmsg.bufferSize", "65552", "65552 must be 56 to 65551")]
    [TestCase("rpmsg.bufferPoolOffset", "\"0x0\"", "the buffer pool [0x0, 0x40000) overlaps the resource table [0x0, 0x1000)")]
    [TestCase("resourceTable.size", "\"0xF\"", "0xf bytes is smaller than the table's 16-byte header")]
    [TestCase("resourceTable.offset", "\"0xFFFFFFFFFFFFFFFF\"", "[0xffffffffffffffff, 0x10000000000000fff) is not inside the 0x100000 bytes of shared memory")]
    [TestCase("doorbell.mailboxValue", "\"0x100000000\"", "0x100000000 does not fit the 32-bit register")]
    [TestCase("doorbell.mailboxNotifyIdShift", "32", "32 must be -1")]
    [TestCase("doorbell.mailboxNotifyIdShift", "-2", "-2 must be -1")]
    [TestCase("doorbell.mailboxOffset", "\"0x2\"", "0x2 is not a multiple of 4")]
    [TestCase("doorbell.mailboxMap", "5", "0 to 4")]
    [TestCase("doorbell.uioDevice", "-1", "-1 must not be negative")]
    [TestCase("remote.services.echo", "\"a-32-byte-name-0123456789abcdefg\"", "32 bytes; an rpmsg name holds at most 31")]
    [TestCase("remote.services.echo", "\"\"", "must not be empty")]
    [TestCase("name", "\"b\\u001b[2J\"", "control characters")]
    [TestCase("description", "\"two\\nlines\"", "one line")]
    public void OutOfRangeValuesAreRefusedNamingFieldAndValue(string path, string json, string expected)
    {
        string message = Refused((path, json));
        string field = path.StartsWith("resourceTable.offset", StringComparison.Ordinal) ? "resourceTable" : path;
        Assert.That(message, Does.StartWith($"board file 'test.json': {field}: ").And.Contain(expected));
    }

    [Test]
    public void ASocketPathLongerThanSunPathIsRefused()
    {
        string path = "/tmp/" + new string('s', 103);
        string message = Refused(("doorbell.kind", "\"unix-socket\""), ("doorbell.path", $"\"{path}\""));
        Assert.That(message, Does.Contain("doorbell.path").And.Contain("108 bytes").And.Contain("at most 107"));
    }

    [Test]
    public void SizesInMessagesAreHexBytesNotBrokenFormatsOrWrappedInts()
    {
        // The pool was printed with int arithmetic wrapped into a ulong, the memory size with a "#x" format ("1048576x-byte").
        string pool = Refused(("rpmsg.rxBuffers", "2147483647"), ("rpmsg.txBuffers", "2147483647"));
        string fit = Refused(("rpmsg.bufferPoolOffset", "\"0xF0000\""));
        Assert.Multiple(() =>
        {
            Assert.That(pool, Does.Contain("rpmsg.rxBuffers: 2147483647 must be 1 to 32768"));
            Assert.That(fit, Does.Contain("the pool of 256 + 256 buffers of 512 bytes, [0xf0000, 0x130000), is not inside the 0x100000 bytes of shared memory"));
            Assert.That(fit, Does.Not.Contain("1048576x"));
        });
    }

    [TestCase("{ \"name\": \"b\",", "{ \"name\": \"b\", \"name\": \"c\",", "'name'", "$.name")]
    [TestCase("\"size\": \"0x100000\"", "\"size\": \"0x100000\", \"size\": \"0x200000\"", "'size'", "$.sharedMemory.size")]
    [TestCase("\"kind\": \"simulated\"", "\"kind\": \"simulated\", \"kind\": \"external\"", "'kind'", "$.remote.kind")]
    [TestCase("\"rpmsg\":", "\"rpmsg\": { \"bufferPoolOffset\": \"0x10000\" }, \"rpmsg\":", "'rpmsg'", "$.rpmsg")]
    public void DuplicateKeysAreRefusedWithTheKeyNamed(string from, string to, string key, string path)
    {
        string json = Full.Replace(from, to, StringComparison.Ordinal);
        Assert.That(json, Is.Not.EqualTo(Full), "the test's replacement applies");
        var e = Assert.Throws<BoardException>(() => BoardDescriptor.Parse(json, "test.json"))!;
        Assert.That(e.Message, Does.Contain("test.json").And.Contain("duplicate key").And.Contain(key).And.Contain(path).And.Contain("line "));
    }

    [TestCase("rpmsg", "$.rpmsg")]
    [TestCase("sharedMemory", "$.sharedMemory")]
    [TestCase("name", "$.name")]
    [TestCase("remote.services", "$.remote.services")]
    public void NullWhereAValueBelongsIsRefusedWithThePath(string path, string expected)
    {
        string message = Refused((path, "null"));
        Assert.That(message, Does.Contain("test.json").And.Contain(expected).And.Contain("null"));
    }

    [Test]
    public void AnUnknownKindListsTheKnownOnes()
    {
        string message = Refused(("notification.mode", "\"busy\""));
        Assert.That(message, Does.Contain("'mode' must be one of polling, doorbell, adaptive (at $.notification.mode, line 1)"));
    }

    [TestCase("NaN")]
    [TestCase("Infinity")]
    [TestCase("\"NaN\"")]
    [TestCase("\"Infinity\"")]
    public void NotANumberIsRefusedByTheJsonReaderWithThePath(string value)
    {
        string json = Full.Replace("\"startTimeoutSeconds\": 30", $"\"startTimeoutSeconds\": {value}", StringComparison.Ordinal);
        var e = Assert.Throws<BoardException>(() => BoardDescriptor.Parse(json, "test.json"))!;
        Assert.That(e.Message, Does.Contain("test.json").And.Contain("$.remote.startTimeoutSeconds"));
    }

    [Test]
    public void MissingFileIsNamed()
    {
        var e = Assert.Throws<BoardException>(() => BoardDescriptor.Load("/nonexistent/board.json"))!;
        Assert.That(e.Message, Does.Contain("/nonexistent/board.json"));
    }
}
