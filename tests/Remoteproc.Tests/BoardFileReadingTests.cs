using System.Diagnostics;
using AmpCan.Remoteproc.Boards;

namespace AmpCan.Tests.Remoteproc;

/// <summary>What <see cref="BoardDescriptor.Load"/> does with paths that are not a small JSON file.</summary>
public class BoardFileReadingTests
{
    // A broken reader spins on /dev/zero or blocks on a FIFO for ever; each load gets this long before the test fails.
    private static readonly TimeSpan LoadLimit = TimeSpan.FromSeconds(10);

    private string _dir = null!;

    [SetUp]
    public void CreateDirectory() => _dir = Directory.CreateTempSubdirectory("ampcan-boardfile-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private static BoardException LoadFails(string path)
    {
        Task<BoardDescriptor> load = Task.Run(() => BoardDescriptor.Load(path));
        Assert.That(Task.WaitAny([load], LoadLimit), Is.Zero, $"loading '{path}' did not finish within {LoadLimit}");
        Assert.That(load.Exception?.InnerException, Is.InstanceOf<BoardException>(), $"loading '{path}' should be refused");
        return (BoardException)load.Exception!.InnerException!;
    }

    [Test]
    public void ACharacterDeviceIsRefusedWithoutReadingIt()
    {
        BoardException e = LoadFails("/dev/zero");
        Assert.That(e.Message, Does.Contain("'/dev/zero'").And.Contain("not a regular file"));
    }

    [Test]
    public void AFifoIsRefusedWithoutWaitingForAWriter()
    {
        string fifo = Path.Combine(_dir, "board.json");
        using (Process mkfifo = Process.Start("mkfifo", fifo)) Assert.That(mkfifo.WaitForExit(LoadLimit) && mkfifo.ExitCode == 0, "mkfifo");
        Task<BoardDescriptor> load = Task.Run(() => BoardDescriptor.Load(fifo));
        if (Task.WaitAny([load], LoadLimit) != 0)
        {
            // The reader is blocked in open(); a writer releases it so the test leaves no thread behind.
            using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
            Assert.Fail("loading a FIFO blocked waiting for a writer");
        }
        Assert.That(load.Exception?.InnerException?.Message, Does.Contain(fifo).And.Contain("not a regular file"));
    }

    [Test]
    public void AFileOverTheLimitIsRefusedNamingTheLimit()
    {
        string big = Path.Combine(_dir, "big.json");
        using (var f = new FileStream(big, FileMode.CreateNew)) f.SetLength(BoardDescriptor.MaxFileBytes + 1);
        BoardException e = LoadFails(big);
        Assert.That(e.Message, Does.Contain(big).And.Contain($"0x{BoardDescriptor.MaxFileBytes:x} bytes"));
    }

    [Test]
    public void ADirectoryIsRefused()
    {
        BoardException e = LoadFails(_dir);
        Assert.That(e.Message, Does.Contain(_dir).And.Contain("directory"));
    }

    [Test]
    public void AnEmptyFileIsRefused()
    {
        string empty = Path.Combine(_dir, "empty.json");
        File.WriteAllBytes(empty, []);
        Assert.That(LoadFails(empty).Message, Does.Contain(empty).And.Contain("empty"));
    }

    [Test]
    public void TextThatIsNotUtf8IsRefused()
    {
        string latin1 = Path.Combine(_dir, "latin1.json");
        File.WriteAllBytes(latin1, [(byte)'{', (byte)'"', 0xE9, (byte)'"', (byte)':', (byte)'1', (byte)'}']);
        Assert.That(LoadFails(latin1).Message, Does.Contain(latin1).And.Contain("UTF-8").And.Contain("offset 2"));
    }

    [Test]
    public void AByteOrderMarkAndASymlinkToABoardAreFine()
    {
        string shipped = Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json");
        string withBom = Path.Combine(_dir, "bom.json");
        File.WriteAllBytes(withBom, [0xEF, 0xBB, 0xBF, .. File.ReadAllBytes(shipped)]);
        string link = Path.Combine(_dir, "link.json");
        File.CreateSymbolicLink(link, withBom);
        Assert.That(BoardDescriptor.Load(link).Name, Is.EqualTo("sim"));
    }
}
