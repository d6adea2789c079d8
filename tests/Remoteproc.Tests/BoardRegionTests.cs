using AmpCan.Remoteproc.Boards;
using static AmpCan.Tests.Remoteproc.BoardJsonEdit;

namespace AmpCan.Tests.Remoteproc;

/// <summary>A core's named memory regions: what they derive from, and each check on them naming the field.</summary>
public class BoardRegionTests
{
    // A core with firmware, vring and IPC regions; the window is the IPC region, the pool 16 × 512 bytes at 0x1000.
    internal const string Regions = """
        { "name": "b",
          "sharedMemory": { "kind": "dev-mem", "size": "0x4000", "deviceAddress": "0x10042000", "physicalAddress": "0x10042000" },
          "rpmsg": { "bufferPoolOffset": "0x1000", "rxBuffers": 8, "txBuffers": 8, "bufferSize": 512 },
          "doorbell": { "kind": "polling" },
          "regions": [
            { "name": "fw", "deviceAddress": "0x10000000", "physicalAddress": "0x10000000", "size": "0x40000", "backing": { "kind": "dev-mem" }, "roles": [ "firmware" ] },
            { "name": "rings", "deviceAddress": "0x10040000", "physicalAddress": "0x10040000", "size": "0x2000", "backing": { "kind": "dev-mem" }, "roles": [ "vrings" ] },
            { "name": "ipc", "deviceAddress": "0x10042000", "physicalAddress": "0x10042000", "size": "0x4000", "backing": { "kind": "dev-mem" }, "roles": [ "buffers", "resource-table" ] }
          ],
          "mailboxes": [ { "name": "poll", "kind": "polling" } ],
          "core": { "mechanism": "external" } }
        """;

    private static BoardDescriptor Load(string json) => BoardFile.Parse(json, "test.json").Cores.Single();

    private static string Refused(string json) => Assert.Throws<BoardException>(() => BoardFile.Parse(json, "test.json"))!.Message;

    private static void AssertRefused(string json, string field, string problem) =>
        Assert.That(Refused(json), Does.StartWith($"board file 'test.json': {field}: ").And.Contain(problem));

    [Test]
    public void TheTemplateLoadsWithItsRegions()
    {
        BoardDescriptor b = Load(Regions);
        Assert.That(b.EffectiveRegions.Select(r => (r.Name, r.DeviceAddress, r.Size)),
            Is.EqualTo(new[] { ("fw", 0x10000000UL, 0x40000UL), ("rings", 0x10040000UL, 0x2000UL), ("ipc", 0x10042000UL, 0x4000UL) }));
        Assert.That(b.EffectiveRegions[2].Roles, Is.EquivalentTo(new[] { RegionRole.Buffers, RegionRole.ResourceTable }));
    }

    [Test]
    public void WithoutRegionsTheWindowIsOneSharedRegion()
    {
        BoardDescriptor sim = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        RegionSpec shared = sim.EffectiveRegions.Single();
        Assert.Multiple(() =>
        {
            Assert.That(sim.Regions, Is.Null);
            Assert.That((shared.Name, shared.DeviceAddress, shared.Size, shared.Backing.Kind), Is.EqualTo(("shared", 0x30000000UL, 0x100000UL, SharedMemoryKind.Memfd)));
            Assert.That(shared.Roles, Is.EquivalentTo(new[] { RegionRole.Vrings, RegionRole.Buffers, RegionRole.ResourceTable }));
        });
    }

    [Test]
    public void AZeroSizeIsRefused() => AssertRefused(With(Regions, ("regions[1].size", "\"0x0\"")), "regions[1].size", "must not be 0");

    [Test]
    public void AVringRegionPastFourGiBIsRefused() =>
        AssertRefused(With(Regions, ("regions[1].deviceAddress", "\"0xfffff000\"")), "regions[1].size", "ends above 4 GiB");

    [Test]
    public void AFirmwareRegionPastFourGiBIsAccepted()
    {
        // A resource table addresses vrings, buffers, carveouts and trace with 32-bit das, not the image's load addresses.
        BoardDescriptor b = Load(With(Regions, ("regions[0].deviceAddress", "\"0x100000000\"")));
        Assert.That(b.EffectiveRegions[0].DeviceAddress, Is.EqualTo(0x100000000UL));
    }

    [Test]
    public void ARegionWrappingThePhysicalAddressSpaceIsRefused() =>
        AssertRefused(With(Regions, ("regions[0].physicalAddress", "\"0xfffffffffffff000\"")), "regions[0].size", "wraps past the end of the physical address space");

    [Test]
    public void RegionsOverlappingInTheRemotesAddressSpaceAreRefused() =>
        AssertRefused(With(Regions, ("regions[1].deviceAddress", "\"0x1003f000\"")), "regions[1].deviceAddress", "'rings' [0x1003f000, 0x10041000) overlaps 'fw'");

    [Test]
    public void RegionsOverlappingInThePhysicalAddressSpaceAreRefused()
    {
        string message = Refused(With(Regions, ("regions[2].physicalAddress", "\"0x10041000\"")));
        Assert.That(message, Does.Contain("regions[2].physicalAddress").And.Contain("overlaps 'rings'").And.Contain("physical address space"));
    }

    [Test]
    public void MemfdRegionsHaveNoPhysicalAddressToOverlap()
    {
        string memfd = With(Regions, ("sharedMemory", """{ "kind": "memfd", "size": "0x4000", "deviceAddress": "0x10042000" }"""),
            ("regions[0].backing", """{ "kind": "memfd" }"""), ("regions[1].backing", """{ "kind": "memfd" }"""), ("regions[2].backing", """{ "kind": "memfd" }"""),
            ("regions[0].physicalAddress", "\"0x0\""), ("regions[1].physicalAddress", "\"0x0\""), ("regions[2].physicalAddress", "\"0x0\""));
        Assert.That(Load(memfd).EffectiveRegions, Has.Count.EqualTo(3));
    }

    // STM32MP1's MCU SRAM: 0x10000000 and 0x30000000 are the same memory; here the alias also shares the physical address.
    private const string Alias = """{ "name": "fw-alias", "deviceAddress": "0x30000000", "physicalAddress": "0x10000000", "size": "0x40000", "backing": { "kind": "dev-mem" }, "roles": [ "firmware" ], "aliasOf": "fw" }""";

    [Test]
    public void AnAliasMayOverlapTheRegionItAliases()
    {
        BoardDescriptor b = Load(With(Regions, ("regions[3]", Alias)));
        Assert.That(b.EffectiveRegions[3].AliasOf, Is.EqualTo("fw"));
    }

    [Test]
    public void TheSameOverlapWithoutAliasOfIsRefused() =>
        AssertRefused(With(Regions, ("regions[3]", Alias), ("regions[3].aliasOf", null)), "regions[3].physicalAddress", "overlaps 'fw'");

    [Test]
    public void AnAliasOfAMissingRegionIsRefused() =>
        AssertRefused(With(Regions, ("regions[3]", Alias), ("regions[3].aliasOf", "\"sram\"")), "regions[3].aliasOf", "names 'sram', which is not a region of this core");

    [Test]
    public void AnAliasOfAnotherSizeIsRefused() =>
        AssertRefused(With(Regions, ("regions[3]", Alias), ("regions[3].size", "\"0x20000\"")), "regions[3].aliasOf", "an alias is the same memory, so the same size");

    [Test]
    public void AnAliasAtTheSameAddressesIsRefused() =>
        AssertRefused(With(Regions, ("regions[3]", Alias), ("regions[3].deviceAddress", "\"0x10000000\"")), "regions[3].aliasOf", "the same region twice");

    [Test]
    public void DuplicateRegionNamesAreRefused() =>
        AssertRefused(With(Regions, ("regions[1].name", "\"fw\"")), "regions[1].name", "'fw' is also the name of regions[0]");

    [TestCase("\"\"", "must not be empty")]
    [TestCase("\"vdev0 vring0\"", "is not a name")]
    [TestCase("\"a-name-of-thirty-two-characters!\"", "at most 31")]
    public void ABadRegionNameIsRefused(string name, string problem) =>
        AssertRefused(With(Regions, ("regions[1].name", name)), "regions[1].name", problem);

    [Test]
    public void ARegionWithoutRolesIsRefused() =>
        AssertRefused(With(Regions, ("regions[0].roles", "[]")), "regions[0].roles", "at least one role");

    [Test]
    public void ARoleListedTwiceIsRefused() =>
        AssertRefused(With(Regions, ("regions[0].roles", "[\"firmware\", \"firmware\"]")), "regions[0].roles", "lists firmware twice");

    [Test]
    public void AnUnknownRoleNamesTheRoles()
    {
        string message = Refused(With(Regions, ("regions[0].roles", "[\"code\"]")));
        Assert.That(message, Does.Contain("must be one of firmware, vrings, buffers, resource-table, trace, carveout").And.Contain("$.regions[0].roles"));
    }

    [Test]
    public void AFileBackingWithoutAPathIsRefused() =>
        AssertRefused(With(Regions, ("regions[0].backing", """{ "kind": "file" }""")), "regions[0].backing.path", "is required for kind 'file'");

    [Test]
    public void ASharedMemoryThatIsNoRegionIsRefused() =>
        AssertRefused(With(Regions, ("sharedMemory.size", "\"0x3000\"")), "sharedMemory", "is not one of the regions");

    [Test]
    public void ASharedMemoryDisagreeingWithItsRegionIsRefused() =>
        AssertRefused(With(Regions, ("sharedMemory.physicalAddress", "\"0x20042000\"")), "sharedMemory.physicalAddress", "differs from region 'ipc'");

    [Test]
    public void ATableInANamedRegionIsCheckedAgainstThatRegion()
    {
        BoardDescriptor b = Load(With(Regions, ("resourceTable", """{ "region": "ipc", "offset": "0x0", "size": "0x400" }""")));
        Assert.That(b.ResourceTable.Region, Is.EqualTo("ipc"));
        AssertRefused(With(Regions, ("resourceTable", """{ "region": "ipc", "offset": "0x3f00", "size": "0x400" }""")), "resourceTable", "not inside the 0x4000 bytes of region 'ipc'");
        AssertRefused(With(Regions, ("resourceTable", """{ "region": "rings" }""")), "resourceTable.region", "'rings' does not have the resource-table role");
        AssertRefused(With(Regions, ("resourceTable", """{ "region": "rom" }""")), "resourceTable.region", "names 'rom', which is not a region");
    }

    [Test]
    public void ATableInTheImageNeedsAResourceTableRegion()
    {
        Assert.That(Load(With(Regions, ("resourceTable", """{ "inImage": true }"""))).ResourceTable.InImage);
        AssertRefused(With(Regions, ("resourceTable", """{ "inImage": true }"""), ("regions[2].roles", "[\"buffers\"]")), "resourceTable.inImage", "needs a region with the resource-table role");
        AssertRefused(With(Regions, ("resourceTable", """{ "inImage": true, "offset": "0x100" }""")), "resourceTable.offset", "must be 0 with inImage");
    }
}
