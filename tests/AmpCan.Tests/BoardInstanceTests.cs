using AmpCan.Host.Boards;
using System.Diagnostics;
using System.Text;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Host;

/// <summary>
/// One instance per board and role, files that only their creator touches and removes: against a real second process
/// where one is involved (remote-sim), and files and sockets on the real file system.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class BoardInstanceTests
{
    private FileBoardWithRemoteSim _b = null!;

    [SetUp]
    public void FileBoard() => _b = new FileBoardWithRemoteSim("inst");

    [TearDown]
    public void RemoveFiles() => _b.Dispose();

    [Test]
    public void ASecondRemoteSimIsRefusedNamingTheFirstAndTheFirstRemovesWhatItCreated()
    {
        using RemoteSimProcess first = _b.StartRemoteSim();
        Assert.That(Convert.ToString((int)File.GetUnixFileMode(_b.SharedFile), 8), Is.EqualTo("600"), "created for its owner only");
        using (RemoteSimProcess second = _b.StartRemoteSim(waitForSocket: false))
        {
            Assert.That(second.Exit(TimeSpan.FromSeconds(60)), Is.EqualTo(1), second.Output);
            Assert.That(second.Output, Does.Contain($"pid {first.Process.Id}").And.Contain("remote-sim"), "the message names the holder");
            Assert.That(second.Output, Does.Not.Contain("   at "));
        }
        Assert.That(File.Exists(_b.SharedFile) && File.Exists(_b.Socket), Is.True, "the second touched nothing of the first's");

        Assert.That(Tmds.Linux.LibC.kill(first.Process.Id, Tmds.Linux.LibC.SIGTERM), Is.Zero);
        Assert.That(first.Exit(TimeSpan.FromSeconds(60)), Is.Zero, first.Output);
        Assert.That(File.Exists(_b.SharedFile), Is.False, "whoever creates the shared file removes it");
        Assert.That(File.Exists(_b.Socket), Is.False, "and its socket");
    }

    [Test]
    public void RemoteSimNeverFollowsASymlinkAtTheSharedFilesPath()
    {
        string victim = Path.Combine(_b.Directory, "precious");
        File.WriteAllText(victim, "keep me");
        File.CreateSymbolicLink(_b.SharedFile, victim);
        using RemoteSimProcess sim = _b.StartRemoteSim(waitForSocket: false);
        FileBoardWithRemoteSim.WaitFor(() => File.Exists(_b.Socket) || sim.Process.HasExited, "the remote to start or stop");
        if (!sim.Process.HasExited) Tmds.Linux.LibC.kill(sim.Process.Id, Tmds.Linux.LibC.SIGTERM);
        sim.Exit(TimeSpan.FromSeconds(60));
        Assert.That(File.ReadAllText(victim), Is.EqualTo("keep me"), "the symlink's target is untouched");
    }

    [Test]
    public void ASecondHostOnTheSameBoardIsRefusedNamingTheFirst()
    {
        BoardDescriptor board = BoardDescriptor.Load(_b.Board) with { Remote = new RemoteSpec { Kind = RemoteKind.Simulated } };
        using BoardHost first = BoardHost.Start(board);
        var e = Assert.Throws<InstanceLockedException>(() => BoardHost.Start(board))!;
        Assert.That(e.Message, Does.Contain($"pid {Environment.ProcessId}"));
        Assert.That(first.Rpmsg.IsReady, Is.True, "the first host's rings were not reset under it");
    }
}
