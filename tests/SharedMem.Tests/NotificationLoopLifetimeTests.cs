using AmpCan.SharedMem.Doorbells;
using static Tmds.Linux.LibC;

namespace AmpCan.Tests.SharedMem;

/// <summary>What a loop does with its own descriptors once disposed, and when the kernel fails it.</summary>
public class NotificationLoopLifetimeTests
{
    private sealed class Idle : INotificationHandler
    {
        public Action? OnProcess;
        public bool Process() { OnProcess?.Invoke(); return false; }
        public bool ArmNotifications() => false;
        public void DisarmNotifications() { }
    }

    private static int[] EventPollDescriptors() =>
        Directory.GetFiles("/proc/self/fd")
            .Where(f => { try { return new FileInfo(f).LinkTarget == "anon_inode:[eventpoll]"; } catch (IOException) { return false; } })
            .Select(f => int.Parse(Path.GetFileName(f), System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Test]
    public void WakeAfterDisposeNeverWritesIntoADescriptorThatReusedItsNumber()
    {
        var loop = new NotificationLoop("gone", NotificationMode.Doorbell);
        loop.Start();
        loop.Dispose();
        // The lowest free numbers go to the next opens: several files take whatever the loop's eventfd and epoll had.
        string dir = Directory.CreateTempSubdirectory("ampcan-reuse-").FullName;
        var files = Enumerable.Range(0, 8).Select(i => new FileStream(Path.Combine(dir, $"f{i}"), FileMode.CreateNew, FileAccess.ReadWrite)).ToList();
        try
        {
            loop.Wake();
            loop.Wake();
            foreach (FileStream f in files)
                Assert.That(new FileInfo(f.Name).Length, Is.Zero, $"{f.Name} (fd {f.SafeFileHandle.DangerousGetHandle()}) must stay empty: nothing of the loop may write into it");
        }
        finally
        {
            foreach (FileStream f in files) f.Dispose();
            Directory.Delete(dir, recursive: true);
        }
        loop.Dispose(); // twice is harmless
    }

    [Test]
    public void AnEpollFailureFailsEveryHandlerAndEndsOnlyTheLoop()
    {
        int[] before = EventPollDescriptors();
        using var loop = new NotificationLoop("doomed", NotificationMode.Doorbell);
        int epollFd = EventPollDescriptors().Except(before).Single();
        var a = new Idle();
        var b = new Idle();
        using Microsoft.Win32.SafeHandles.SafeFileHandle nullHandle = File.OpenHandle("/dev/null");
        int devNull = (int)nullHandle.DangerousGetHandle();
        bool broken = false;
        // The kernel refuses epoll_wait on what is no longer an epoll descriptor (EINVAL): the failure a loop cannot ride out.
        a.OnProcess = () => { if (!broken) { broken = true; dup2(devNull, epollFd); } };
        var faulted = new List<INotificationHandler>();
        using var done = new CountdownEvent(2);
        loop.HandlerFaulted += (h, _) => { lock (faulted) faulted.Add(h); done.Signal(); };
        loop.Add(a);
        loop.Add(b);
        loop.Start();
        Assert.That(done.Wait(TimeSpan.FromSeconds(10)), Is.True, "both handlers' owners learn that the loop failed");
        Assert.That(faulted, Is.EquivalentTo(new INotificationHandler[] { a, b }));
        Assert.That(loop.Failure, Is.TypeOf<AmpCan.SharedMem.SharedMemoryException>());
        Assert.That(loop.Failure!.Message, Does.Contain("epoll_wait").And.Contain("doomed"));
    }
}
