using AmpCan.Remoteproc.Boards;

namespace AmpCan.Tests.Remoteproc;

/// <summary>core.heartbeat: the watchdog's word, checked at load for what can be checked without the remote's table.</summary>
public class BoardHeartbeatTests
{
    private static string Board(string core) => $$"""
        { "name": "beat", "sharedMemory": { "kind": "memfd", "size": "0x100000", "deviceAddress": "0x30000000" },
          "rpmsg": { "bufferPoolOffset": "0x10000" }, "doorbell": { "kind": "event-fd" },
          "core": { {{core}} } }
        """;

    [Test]
    public void AHeartbeatWithAWatchdogLoads()
    {
        BoardDescriptor b = BoardDescriptor.Parse(Board("\"mechanism\": \"simulated\", \"watchdogMs\": 500, \"heartbeat\": \"0x30002000\""), "beat.json");
        Assert.That((b.EffectiveCore.Heartbeat, b.EffectiveCore.WatchdogMs), Is.EqualTo(((ulong?)0x3000_2000, 500)));
    }

    [TestCase("\"mechanism\": \"simulated\", \"heartbeat\": \"0x30002000\"", "core.heartbeat: needs core.watchdogMs")]
    [TestCase("\"mechanism\": \"simulated\", \"watchdogMs\": 500, \"heartbeat\": \"0x30002002\"", "core.heartbeat: 0x30002002 is not 4-byte aligned")]
    public void AHeartbeatTheWatchdogCannotUseIsRefused(string core, string error) =>
        Assert.That(() => BoardDescriptor.Parse(Board(core), "beat.json"), Throws.TypeOf<BoardException>().With.Message.Contains(error).And.Message.Contains("beat.json"));
}
