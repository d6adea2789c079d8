using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.SharedMem;

/// <summary>Two connected <see cref="UnixSocketDoorbell"/>s on a fresh path under the temporary directory.</summary>
internal static class SocketDoorbellPair
{
    public static (UnixSocketDoorbell Server, UnixSocketDoorbell Client, string Path) Connect()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-bell-{Guid.NewGuid():N}.sock");
        Task<UnixSocketDoorbell> server = Task.Run(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromSeconds(20)));
        UnixSocketDoorbell client = UnixSocketDoorbell.Connect(path, TimeSpan.FromSeconds(20));
        Assert.That(server.Wait(TimeSpan.FromSeconds(20)), Is.True, "accept");
        return (server.Result, client, path);
    }
}
