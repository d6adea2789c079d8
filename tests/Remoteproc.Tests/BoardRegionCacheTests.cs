using AmpCan.Remoteproc.Boards;
using static AmpCan.Tests.Remoteproc.BoardJsonEdit;

namespace AmpCan.Tests.Remoteproc;

/// <summary>A region's cache: uncached by default, coherent for dev-mem, non-coherent refused saying why.</summary>
public class BoardRegionCacheTests
{
    private const string Regions = BoardRegionTests.Regions;

    private static BoardDescriptor Load(string json) => BoardFile.Parse(json, "test.json").Cores.Single();

    private static void AssertRefused(string json, string field, string problem) =>
        Assert.That(Assert.Throws<BoardException>(() => BoardFile.Parse(json, "test.json"))!.Message,
            Does.StartWith($"board file 'test.json': {field}: ").And.Contain(problem));

    [Test]
    public void RegionsAreUncachedUnlessTheBoardSaysCoherent()
    {
        BoardDescriptor b = Load(With(Regions, ("regions[1].cache", "\"coherent\"")));
        Assert.That(b.EffectiveRegions.Select(r => r.Cache), Is.EqualTo(new[] { RegionCache.Uncached, RegionCache.Coherent, RegionCache.Uncached }));
    }

    [Test]
    public void ANonCoherentRegionIsRefusedSayingWhy() =>
        AssertRefused(With(Regions, ("regions[1].cache", "\"non-coherent\"")), "regions[1].cache",
            "'rings' is 'non-coherent': mapped cacheable, the remote would not see the host's writes");

    [Test]
    public void ACoherentUioRegionIsRefused() =>
        AssertRefused(With(Regions, ("regions[1].backing", """{ "kind": "uio", "uioDevice": 0, "uioMap": 1 }"""), ("regions[1].cache", "\"coherent\"")),
            "regions[1].cache", "'coherent' is for dev-mem regions; 'rings' is 'uio', whose memory type the kernel's UIO driver chooses");

    [Test]
    public void ACoherentAliasIsRefused() =>
        AssertRefused(With(Regions, ("regions[3]", """{ "name": "fw2", "deviceAddress": "0x30000000", "physicalAddress": "0x10000000", "size": "0x40000", "backing": { "kind": "dev-mem" }, "roles": [ "firmware" ], "aliasOf": "fw", "cache": "coherent" }""")),
            "regions[3].cache", "'fw2' is an alias, a view of 'fw''s mapping; give the cache on 'fw'");
}
