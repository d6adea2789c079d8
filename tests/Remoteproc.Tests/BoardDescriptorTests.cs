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

    [Test]
    public void MissingFileIsNamed()
    {
        var e = Assert.Throws<BoardException>(() => BoardDescriptor.Load("/nonexistent/board.json"))!;
        Assert.That(e.Message, Does.Contain("/nonexistent/board.json"));
    }
}
