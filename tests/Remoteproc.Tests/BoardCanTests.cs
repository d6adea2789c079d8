using AmpCan.Remoteproc.Boards;

namespace AmpCan.Tests.Remoteproc;

/// <summary>The board file's <c>can</c> section: controllers shared with the remote, the in-process buses they are on.</summary>
public class BoardCanTests
{
    private static string Board(string can) => $$"""
        { "name": "b", "sharedMemory": { "kind": "memfd", "size": "0x100000" },
          "rpmsg": { "bufferPoolOffset": "0x10000" }, "doorbell": { "kind": "event-fd" }, "can": {{can}} }
        """;

    [Test]
    public void ControllersOnABusAndOnAnInterfaceLoad()
    {
        BoardDescriptor b = BoardDescriptor.Parse(Board("""
            { "controllers": [ { "name": "can0", "bus": "sim", "log": "/tmp/can0.log" }, { "name": "can1", "interface": "vcan0" } ],
              "buses": [ { "name": "sim", "bitrate": 500000, "dataBitrate": 2000000, "interface": "vcan1" } ] }
            """), "t");
        Assert.That(b.Can.Controllers.Select(c => (c.Name, c.Bus, c.Interface)), Is.EqualTo(new[] { ("can0", (string?)"sim", (string?)null), ("can1", null, "vcan0") }));
        Assert.That((b.Can.Bus("sim").Bitrate, b.Can.Bus("sim").DataBitrate, b.Can.Bus("sim").Interface), Is.EqualTo((500000L, 2000000L, "vcan1")));
        Assert.That(b.Can.Bus("other").Bitrate, Is.Zero, "a bus not listed runs unpaced");
    }

    [Test]
    public void ABoardWithoutACanSectionSharesNoController() =>
        Assert.That(BoardDescriptor.Parse(Board("{}"), "t").Can.Controllers, Is.Empty);

    [TestCase("""{ "controllers": [ { "name": "can0" } ] }""", "can.controllers[0]: 'can0' needs exactly one of \"bus\"")]
    [TestCase("""{ "controllers": [ { "name": "can0", "bus": "a", "interface": "vcan0" } ] }""", "exactly one of")]
    [TestCase("""{ "controllers": [ { "name": "a name", "bus": "a" } ] }""", "can.controllers[0].name: 'a name' is not an interface name")]
    [TestCase("""{ "controllers": [ { "name": "can0", "interface": "a-very-long-interface" } ] }""", "can.controllers[0].interface: is 21 characters; at most 15")]
    [TestCase("""{ "controllers": [ { "name": "can0", "bus": "a" }, { "name": "can0", "bus": "a" } ] }""", "'can0' names more than one controller")]
    [TestCase("""{ "controllers": [ { "name": "can0", "interface": "vcan0" }, { "name": "can1", "interface": "vcan0" } ] }""", "interface 'vcan0' is given to more than one controller")]
    [TestCase("""{ "controllers": [ { "name": "can0", "bus": "a" } ], "buses": [ { "name": "a", "bitrate": 5 } ] }""", "can.buses[0].bitrate: 5 must be 0 (unpaced) or 10000 to 1000000")]
    [TestCase("""{ "controllers": [ { "name": "can0", "bus": "a" } ], "buses": [ { "name": "a", "bitrate": 500000, "dataBitrate": 100000 } ] }""", "can.buses[0].dataBitrate")]
    [TestCase("""{ "controllers": [ { "name": "can0", "bus": "a" } ], "buses": [ { "name": "b" } ] }""", "can.buses[0].name: no controller is on bus 'b'")]
    [TestCase("""{ "controllers": [ { "name": "can0", "bus": "a", "colour": 1 } ] }""", "colour")]
    public void AMistakeIsRefusedNamingTheField(string can, string expected)
    {
        var e = Assert.Throws<BoardException>(() => BoardDescriptor.Parse(Board(can), "t.json"));
        Assert.That(e!.Message, Does.StartWith("board file 't.json'").And.Contain(expected));
    }

    [Test]
    public void MoreControllersThanABoardTakesAreRefused()
    {
        string many = string.Join(", ", Enumerable.Range(0, CanSpec.MaxControllers + 1).Select(i => $$"""{ "name": "can{{i}}", "bus": "a" }"""));
        var e = Assert.Throws<BoardException>(() => BoardDescriptor.Parse(Board($$"""{ "controllers": [ {{many}} ] }"""), "t.json"));
        Assert.That(e!.Message, Does.Contain($"can.controllers: {CanSpec.MaxControllers + 1} controllers; at most {CanSpec.MaxControllers}"));
    }
}
