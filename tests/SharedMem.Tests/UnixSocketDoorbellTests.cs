using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.SharedMem;

public class UnixSocketDoorbellTests
{
    private static (UnixSocketDoorbell Server, UnixSocketDoorbell Client, string Path) Pair()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-bell-{Guid.NewGuid():N}.sock");
        Task<UnixSocketDoorbell> server = Task.Run(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromSeconds(20)));
        UnixSocketDoorbell client = UnixSocketDoorbell.Connect(path, TimeSpan.FromSeconds(20));
        Assert.That(server.Wait(TimeSpan.FromSeconds(20)), Is.True);
        return (server.Result, client, path);
    }

    [Test]
    public void KicksAreSingleBytesBothWays()
    {
        var (server, client, path) = Pair();
        using (server)
        using (client)
        {
            Assert.That(server.Acknowledge(), Is.False);
            client.Ring(1);
            client.Ring(2);
            Assert.That(server.Wait(TimeSpan.FromSeconds(10)), Is.True);
            Assert.That(server.Acknowledge(), Is.False, "both kicks were drained by one acknowledge");
            server.Ring();
            Assert.That(client.Wait(TimeSpan.FromSeconds(10)), Is.True);
        }
        File.Delete(path);
    }

    [Test]
    public void ConnectTimesOutWithTheSocketNamed()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-nobody-{Guid.NewGuid():N}.sock");
        var e = Assert.Throws<SharedMemoryException>(() => UnixSocketDoorbell.Connect(path, TimeSpan.FromMilliseconds(100)))!;
        Assert.That(e.Message, Does.Contain(path));
    }

    [Test]
    public void LoopStopsWatchingADoorbellWhosePeerClosed()
    {
        var (server, client, path) = Pair();
        using var loop = new NotificationLoop("t", NotificationMode.Doorbell);
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.DoorbellFailed += (_, e) => failed.TrySetResult(e);
        int processed = 0;
        var handler = new Handler(() => { Interlocked.Increment(ref processed); return false; });
        loop.Add(handler, server);
        loop.Start();
        client.Dispose();
        Assert.That(failed.Task.Wait(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(failed.Task.Result, Is.TypeOf<DoorbellClosedException>());
        // The loop parks again instead of spinning on a readable, closed socket: one or two parks per wake-up, as
        // NotificationLoopTests bounds it. Each wake-up takes at least a millisecond (the handler is polled for with
        // sleeps), time enough for a loop spinning through epoll_wait to park hundreds of times.
        long parked = loop.Parks;
        const int Wakes = 20;
        for (int i = 0; i < Wakes; i++)
        {
            int seen = Volatile.Read(ref processed);
            loop.Wake();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            do Thread.Sleep(1);
            while (Volatile.Read(ref processed) == seen && sw.Elapsed < TimeSpan.FromSeconds(10));
            Assert.That(Volatile.Read(ref processed), Is.GreaterThan(seen), "woken, the loop runs its handler");
        }
        Assert.That(loop.Parks - parked, Is.LessThanOrEqualTo(2 * Wakes + 2), "one or two parks per wake-up, not a spin through epoll");
        loop.Stop();
        server.Dispose();
        File.Delete(path);
    }

    private sealed class Handler(Func<bool> work) : INotificationHandler
    {
        public bool Process() => work();
        public bool ArmNotifications() => false;
        public void DisarmNotifications() { }
    }
}
