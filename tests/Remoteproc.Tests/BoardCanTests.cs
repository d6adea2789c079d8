using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;

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
    public void ARemoteOwnedControllerLoadsWithItsBufferOffsetAndRestartDelay()
    {
        BoardDescriptor b = BoardDescriptor.Parse(Board("""
            { "controllers": [ { "name": "can0", "bus": "sim" },
                               { "name": "can1", "owner": "remote", "interface": "vcan0", "bufferOffset": "0xC0000", "restartMs": 250 },
                               { "name": "can2", "owner": "remote", "bus": "sim", "bufferOffset": "0xD0000" } ] }
            """), "t");
        Assert.That(b.Can.Controllers.Select(c => (c.Owner, c.BufferOffset, c.RestartMs)), Is.EqualTo(new[]
        {
            (CanControllerOwner.Host, (ulong?)null, (int?)null),
            (CanControllerOwner.Remote, 0xC0000UL, 250),
            (CanControllerOwner.Remote, 0xD0000UL, null),
        }));
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
    [TestCase("""{ "controllers": [ { "name": "can0", "bus": "a", "owner": "satellite" } ] }""", "must be one of host, remote")]
    [TestCase("""{ "controllers": [ { "name": "can0", "owner": "remote", "bus": "a" } ] }""", "can.controllers[0]: 'can0' is owned by the remote and needs \"bufferOffset\"")]
    [TestCase("""{ "controllers": [ { "name": "can0", "bus": "a", "bufferOffset": "0xC0000" } ] }""", "can.controllers[0].bufferOffset: 'can0' is owned by the host")]
    [TestCase("""{ "controllers": [ { "name": "can0", "owner": "host", "bus": "a", "restartMs": 100 } ] }""", "can.controllers[0].restartMs: 'can0' is owned by the host")]
    [TestCase("""{ "controllers": [ { "name": "can0", "owner": "remote", "bus": "a", "bufferOffset": "0x100000" } ] }""", "can.controllers[0].bufferOffset: 0x100000 is not inside the 0x100000 bytes of shared memory")]
    [TestCase("""{ "controllers": [ { "name": "can0", "owner": "remote", "bus": "a", "bufferOffset": "0xC0008" } ] }""", "can.controllers[0].bufferOffset: 0xc0008 puts the buffers at device address 0xc0008, not a multiple of 16")]
    [TestCase("""{ "controllers": [ { "name": "can0", "owner": "remote", "bus": "a", "bufferOffset": "0xC0000", "restartMs": -1 } ] }""", "can.controllers[0].restartMs: -1 must be 0 (stay stopped after bus-off) to 60000 ms")]
    [TestCase("""{ "controllers": [ { "name": "can0", "owner": "remote", "bus": "a", "bufferOffset": "0xC0000", "restartMs": 60001 } ] }""", "can.controllers[0].restartMs: 60001")]
    [TestCase("""{ "controllers": [ { "name": "can0", "owner": "satellite", "bus": "a" } ] }""", "owner")]
    [TestCase("""{ "controllers": [ { "name": "can0", "owner": "remote", "bus": "a", "bufferOffset": "twelve" } ] }""", "bufferOffset")]
    [TestCase("""{ "controllers": [ { "name": "can0", "owner": "remote", "bufferOffset": "0xC0000" } ] }""", "'can0' needs exactly one of \"bus\"")]
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

    // The board's remote-owned controllers' driver buffers, sized once the table is read, against everything else there.
    private static (BoardDescriptor Board, ResourceTable Table, MappedRegion Shm) Layout()
    {
        BoardDescriptor b = BoardDescriptor.Parse(Board("""{ "controllers": [ { "name": "can0", "owner": "remote", "bus": "a", "bufferOffset": "0xC0000" } ] }"""), "t");
        var shm = MappedRegion.CreateMemfd("board-can-layout", 0x1000);
        VringSpec[] rings = [.. Enumerable.Range(0, 3).Select(q => new VringSpec((uint)(0x60000 + q * 0x3000), 0x1000, 256, (uint)(3 + q)))];
        shm.Io.Write(0, new ResourceTableBuilder().Vdev(36, 100, 0xF, rings, new byte[2]).Build());
        return (b, ResourceTable.Parse(shm.Io), shm);
    }

    [Test]
    public void ADriversBuffersThatFitPassTheLayoutCheck()
    {
        var (b, table, shm) = Layout();
        using (shm)
            Assert.DoesNotThrow(() => BoardLayout.CheckAdded(b, table, 0x40000,
                [new BoardArea("can0's buffers", 0xC0000, 0x10000), new BoardArea("can1's buffers", 0xD0000, 0x30000)]));
    }

    [TestCase(0x61000UL, 0x1000UL, "can0's buffers [0x61000, 0x62000) overlaps vdev 0 (id 36) vring 0 [0x60000, 0x62806)")]
    [TestCase(0x4F000UL, 0x2000UL, "can0's buffers [0x4f000, 0x51000) overlaps the host's rpmsg buffer pool [0x10000, 0x50000)")]
    [TestCase(0x800UL, 0x100UL, "can0's buffers [0x800, 0x900) overlaps the resource table [0x0, 0x1000)")]
    [TestCase(0xF8000UL, 0x10000UL, "can0's buffers [0xf8000, 0x108000) is not inside the shared memory [0x0, 0x100000)")]
    [TestCase(0xC8000UL, 0x10000UL, "can1's buffers [0xc8000, 0xd8000) overlaps can0's buffers [0xc0000, 0xd0000)")]
    public void ADriversBuffersOverlappingAnotherAreaAreRefusedNamingBoth(ulong offset, ulong size, string expected)
    {
        var (b, table, shm) = Layout();
        using (shm)
        {
            BoardArea[] areas = expected.StartsWith("can1", StringComparison.Ordinal)
                ? [new BoardArea("can0's buffers", 0xC0000, 0x10000), new BoardArea("can1's buffers", offset, size)]
                : [new BoardArea("can0's buffers", offset, size)];
            var e = Assert.Throws<BoardException>(() => BoardLayout.CheckAdded(b, table, 0x40000, areas));
            Assert.That(e!.Message, Is.EqualTo($"board 'b': {expected}"));
        }
    }
}
