using AmpCan.Remoteproc.Boards;
using static AmpCan.Tests.Remoteproc.BoardJsonEdit;

namespace AmpCan.Tests.Remoteproc;

/// <summary>Board files with several cores: names, checks across cores, and the host's loader refusing them for now.</summary>
public class BoardMultiCoreTests
{
    // Two cores whose regions are each core's own physical memory; each sees its window at the same device address.
    private const string TwoCores = """
        { "name": "two", "description": "two cores",
          "cores": [
            { "name": "a",
              "sharedMemory": { "kind": "dev-mem", "size": "0x10000", "deviceAddress": "0x30000000", "physicalAddress": "0x70000000" },
              "rpmsg": { "bufferPoolOffset": "0x1000", "rxBuffers": 8, "txBuffers": 8 }, "doorbell": { "kind": "polling" },
              "core": { "mechanism": "attach-only" } },
            { "name": "b",
              "regions": [ { "name": "ipc", "deviceAddress": "0x30000000", "physicalAddress": "0x70010000", "size": "0x10000", "backing": { "kind": "dev-mem" }, "roles": [ "vrings", "buffers", "resource-table" ] } ],
              "sharedMemory": { "kind": "dev-mem", "size": "0x10000", "deviceAddress": "0x30000000", "physicalAddress": "0x70010000" },
              "rpmsg": { "bufferPoolOffset": "0x1000", "rxBuffers": 8, "txBuffers": 8 }, "doorbell": { "kind": "polling" },
              "core": { "mechanism": "attach-only" } } ] }
        """;

    private const string Extra = """{ "name": "mail", "deviceAddress": "0x40000000", "physicalAddress": "0x70008000", "size": "0x1000", "backing": { "kind": "dev-mem" }, "roles": [ "buffers" ] }""";

    private static void AssertRefused(string json, string field, string problem) =>
        Assert.That(Assert.Throws<BoardException>(() => BoardFile.Parse(json, "test.json"))!.Message,
            Does.StartWith($"board file 'test.json': {field}: ").And.Contain(problem));

    [Test]
    public void EachCoreIsNamedAfterTheBoardAndItself()
    {
        BoardFile file = BoardFile.Parse(TwoCores, "test.json");
        Assert.Multiple(() =>
        {
            Assert.That((file.Name, file.Description), Is.EqualTo(("two", "two cores")));
            Assert.That(file.Cores.Select(c => c.Name), Is.EqualTo(new[] { "two/a", "two/b" }));
            Assert.That(file.Cores.Select(c => c.EffectiveRegions.Single().Name), Is.EqualTo(new[] { "shared", "ipc" }));
        });
    }

    [Test]
    public void ASingleCoreFileIsAListOfOneKeepingTheBoardsName()
    {
        BoardFile file = BoardFile.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        Assert.That((file.Name, file.Cores.Single().Name, file.Cores.Single().SharedMemory.Size), Is.EqualTo(("sim", "sim", 0x100000UL)));
    }

    [Test]
    public void TheHostsLoaderRefusesAMultiCoreFile() =>
        Assert.That(Assert.Throws<BoardException>(() => BoardDescriptor.Parse(TwoCores, "test.json"))!.Message,
            Is.EqualTo("board file 'test.json' describes 2 cores (\"cores\"); the service serves each (BoardFile.Load), this command one core per board"));

    [Test]
    public void DuplicateCoreNamesAreRefused() =>
        AssertRefused(With(TwoCores, ("cores[1].name", "\"a\"")), "cores[1].name", "'a' is also the name of cores[0]");

    [Test]
    public void ACoreNameThatIsNoNameIsRefused() =>
        AssertRefused(With(TwoCores, ("cores[1].name", "\"r5f/1\"")), "cores[1].name", "is not a name");

    [Test]
    public void AnErrorInACoreNamesTheCore() =>
        AssertRefused(With(TwoCores, ("cores[1].regions[0].size", "\"0x0\"")), "cores[1].regions[0].size", "must not be 0");

    [Test]
    public void AJsonErrorInACoreGivesItsPath() =>
        Assert.That(Assert.Throws<BoardException>(() => BoardFile.Parse(With(TwoCores, ("cores[1].regions[0].roles", "[\"rom\"]")), "test.json"))!.Message,
            Does.Contain("$.cores[1].regions[0].roles"));

    [Test]
    public void AnEmptyCoreListIsRefused() => AssertRefused(With(TwoCores, ("cores", "[]")), "cores", "at least one core");

    [Test]
    public void TwoCoresOverlappingInPhysicalMemoryAreRefused() =>
        AssertRefused(With(TwoCores, ("cores[1].regions[1]", Extra)), "cores[1].regions[1].physicalAddress",
            "'mail' [0x70008000, 0x70009000) overlaps region 'shared' [0x70000000, 0x70010000) of core 'two/a'");

    [Test]
    public void ACoreWithoutRegionsIsNamedByItsSharedMemory() =>
        AssertRefused(With(TwoCores, ("cores[1].regions", null), ("cores[0].sharedMemory.physicalAddress", "\"0x70010000\"")),
            "cores[1].sharedMemory.physicalAddress", "'shared' [0x70010000, 0x70020000) overlaps region 'shared' [0x70010000, 0x70020000) of core 'two/a'");

    [Test]
    public void MemoryBothCoresMarkSharedOverTheSameRangeIsAccepted()
    {
        const string Mine = """{ "name": "mail", "deviceAddress": "0x40000000", "physicalAddress": "0x70100000", "size": "0x1000", "backing": { "kind": "dev-mem" }, "roles": [ "buffers" ], "shared": true }""";
        string both = With(TwoCores, ("cores[0].regions", """[ { "name": "ipc", "deviceAddress": "0x30000000", "physicalAddress": "0x70000000", "size": "0x10000", "backing": { "kind": "dev-mem" }, "roles": [ "vrings", "buffers", "resource-table" ] } ]"""),
            ("cores[0].regions[1]", Mine), ("cores[1].regions[1]", Mine));
        Assert.That(BoardFile.Parse(both, "test.json").Cores.Select(c => c.EffectiveRegions[1].Shared), Is.EqualTo(new[] { true, true }));

        AssertRefused(With(both, ("cores[1].regions[1].shared", "false")), "cores[1].regions[1].physicalAddress", "only when both regions say \"shared\": true");
        AssertRefused(With(both, ("cores[1].regions[1].size", "\"0x800\"")), "cores[1].regions[1].physicalAddress", "cover the same range");
    }

    [Test]
    public void DeviceAddressesAreEachCoresOwn() =>
        // Both windows are at device address 0x30000000; only physical memory is shared between cores.
        Assert.That(BoardFile.Parse(TwoCores, "test.json").Cores.Select(c => c.SharedMemory.DeviceAddress).Distinct().Single(), Is.EqualTo(0x30000000UL));
}
