using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// The listening side of a socket doorbell owns its path: it replaces only a socket left behind, never a file or a
/// link a peer put there, and removes the socket file it made.
/// </summary>
public class UnixSocketPathTests
{
    private string _dir = null!;

    [SetUp]
    public void MakeDirectory()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"ampcan-sock-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private static UnixSocketDoorbell AcceptOne(string path, out UnixSocketDoorbell client)
    {
        Task<UnixSocketDoorbell> server = Task.Run(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromSeconds(20)));
        client = UnixSocketDoorbell.Connect(path, TimeSpan.FromSeconds(20));
        Assert.That(server.Wait(TimeSpan.FromSeconds(20)), Is.True, "accept");
        return server.Result;
    }

    [Test]
    public void ASocketLeftBehindIsReplaced()
    {
        string path = Path.Combine(_dir, "bell.sock");
        LibcForTests.LeaveSocketFile(path); // what a listener that died leaves
        Assert.That(LibcForTests.IsSocket(path), Is.True);

        using UnixSocketDoorbell server = AcceptOne(path, out UnixSocketDoorbell client);
        using (client)
        {
            client.Ring();
            Assert.That(server.Wait(TimeSpan.FromSeconds(20)), Is.True);
        }
    }

    [Test]
    public void ARegularFileAtThePathIsRefusedAndKept()
    {
        string path = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(path, "keep me");
        var e = Assert.Throws<SharedMemoryException>(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromSeconds(1)))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("regular file"));
        Assert.That(File.ReadAllText(path), Is.EqualTo("keep me"));
    }

    [Test]
    public void ASymbolicLinkAtThePathIsRefusedAndKept()
    {
        string target = Path.Combine(_dir, "target");
        File.WriteAllText(target, "keep me");
        string path = Path.Combine(_dir, "bell.sock");
        File.CreateSymbolicLink(path, target);
        var e = Assert.Throws<SharedMemoryException>(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromSeconds(1)))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Message, Does.Contain(path).And.Contain("symbolic link"));
            Assert.That(new FileInfo(path).LinkTarget, Is.EqualTo(target));
            Assert.That(File.ReadAllText(target), Is.EqualTo("keep me"));
        });
    }

    [Test]
    public void TheListeningSideRemovesItsSocketFileOnDispose()
    {
        string path = Path.Combine(_dir, "bell.sock");
        UnixSocketDoorbell server = AcceptOne(path, out UnixSocketDoorbell client);
        client.Dispose();
        Assert.That(LibcForTests.IsSocket(path), Is.True, "the connecting side leaves the path alone");
        server.Dispose();
        Assert.That(LibcForTests.IsSocket(path), Is.False, "whoever creates the socket file removes it");
    }

    [Test]
    public void ASocketFileReplacedMeanwhileIsLeftToItsNewOwner()
    {
        string path = Path.Combine(_dir, "bell.sock");
        UnixSocketDoorbell server = AcceptOne(path, out UnixSocketDoorbell client);
        File.Delete(path);
        LibcForTests.LeaveSocketFile(path); // the next instance's socket
        server.Dispose();
        client.Dispose();
        Assert.That(LibcForTests.IsSocket(path), Is.True);
    }

    [Test]
    public void AnAcceptThatTimesOutLeavesNoSocketFile()
    {
        string path = Path.Combine(_dir, "bell.sock");
        Assert.Throws<TimeoutException>(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromMilliseconds(50)));
        Assert.That(LibcForTests.IsSocket(path), Is.False);
    }
}
