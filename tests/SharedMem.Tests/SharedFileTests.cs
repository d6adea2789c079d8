using System.Runtime.Versioning;
using AmpCan.SharedMem;
using static Tmds.Linux.LibC;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// Named shared files: never opened through a symbolic link, created exclusively with exact permissions, refused
/// when another user owns them, and removed by whoever created them.
/// </summary>
[SupportedOSPlatform("linux")]
public class SharedFileTests
{
    private string _dir = null!;

    [SetUp]
    public void MakeDirectory()
    {
        _dir = Path.Combine("/dev/shm", $"ampcan-files-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private string In(string name) => Path.Combine(_dir, name);

    private static UnixFileMode ModeOf(string path) => File.GetUnixFileMode(path);

    [TestCase(true)]
    [TestCase(false)]
    public void ASymbolicLinkAtTheShmPathIsRefusedAndItsTargetLeftAlone(bool create)
    {
        string target = In("precious");
        File.WriteAllText(target, "precious");
        string link = In("shm");
        File.CreateSymbolicLink(link, target);

        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile(link, 8192, create: create))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Message, Does.Contain(link).And.Contain("symbolic link"));
            Assert.That(File.ReadAllText(target), Is.EqualTo("precious"), "the link's target was neither grown nor written");
            Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(target), "the link itself stays");
        });
    }

    [Test]
    public void ACreatedFileIsMode0600WhateverTheUmask()
    {
        string path = In("created");
        using var region = MappedRegion.MapFile(path, 4096, create: true);
        Assert.That(ModeOf(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.That(region.CreatedFile, Is.True);
    }

    [Test]
    public void ACreatedFileGetsExactlyTheConfiguredModeOwnerAndGroup()
    {
        string path = In("configured");
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
        bool root = geteuid() == 0u;
        // Without privilege a file can only be given to ourselves; with it, to anyone.
        int owner = root ? 12345 : (int)(uint)geteuid(), group = root ? 23456 : (int)(uint)getegid();
        using var region = MappedRegion.MapFile(path, 4096, new SharedFileOptions
        {
            Creation = FileCreation.CreateNew, Mode = mode, OwnerId = owner, GroupId = group, AllowForeignOwner = true,
        });
        Tmds.Linux.stat st = LibcForTests.StatOf(path);
        Assert.Multiple(() =>
        {
            Assert.That(ModeOf(path), Is.EqualTo(mode), "0660 although the umask would make it 0640");
            Assert.That((uint)st.st_uid, Is.EqualTo((uint)owner));
            Assert.That((uint)st.st_gid, Is.EqualTo((uint)group));
        });
    }

    [Test]
    public void AFileOwnedByAnotherUserIsRefusedUnlessAllowed()
    {
        if (geteuid() != 0u)
        {
            Assert.Ignore("SKIPPED: giving a file to another user needs root (this test runs as uid " + geteuid() + ")");
            return;
        }
        string path = In("foreign");
        File.WriteAllBytes(path, new byte[4096]);
        Assert.That(LibcForTests.Chown(path, 12345, 12345), Is.Zero);

        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile(path, 4096))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("uid 12345").And.Contain("AllowForeignOwner"));
        using var region = MappedRegion.MapFile(path, 4096, new SharedFileOptions { AllowForeignOwner = true });
        Assert.That(region.Size, Is.EqualTo(4096UL));
    }

    [Test]
    public void CreateNewRefusesAFileThatExistsAndLeavesIt()
    {
        string path = In("live");
        File.WriteAllBytes(path, [1, 2, 3, 4]);
        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile(path, 4096, new SharedFileOptions { Creation = FileCreation.CreateNew }))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("already exists"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3, 4 }), "neither truncated, grown nor zeroed");
    }

    [Test]
    public void ReplaceExistingStartsAFreshFileWhereALeftoverWas()
    {
        string path = In("leftover");
        File.WriteAllBytes(path, [9, 9, 9, 9]);
        File.SetUnixFileMode(path, (UnixFileMode)0x1B6 /* 0666, as the old code left it */);
        using var region = MappedRegion.MapFile(path, 4096, new SharedFileOptions { Creation = FileCreation.ReplaceExisting });
        Assert.Multiple(() =>
        {
            Assert.That(region.Io.ReadU32(0), Is.Zero, "a new file, not the leftover's bytes");
            Assert.That(ModeOf(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            Assert.That(region.CreatedFile, Is.True);
        });
    }

    [Test]
    public void ReplaceExistingNeverRemovesASymbolicLinkOrADirectory()
    {
        string target = In("target");
        File.WriteAllText(target, "keep");
        string link = In("link");
        File.CreateSymbolicLink(link, target);
        string dir = In("dir");
        Directory.CreateDirectory(dir);

        var e1 = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile(link, 4096, new SharedFileOptions { Creation = FileCreation.ReplaceExisting }))!;
        var e2 = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile(dir, 4096, new SharedFileOptions { Creation = FileCreation.ReplaceExisting }))!;
        Assert.Multiple(() =>
        {
            Assert.That(e1.Message, Does.Contain(link).And.Contain("symbolic link"));
            Assert.That(e2.Message, Does.Contain(dir).And.Contain("directory"));
            Assert.That(File.ReadAllText(target), Is.EqualTo("keep"));
            Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(target));
            Assert.That(Directory.Exists(dir), Is.True);
        });
    }

    [Test]
    public void SomethingOtherThanARegularFileIsNeverMapped()
    {
        string fifo = In("fifo");
        Assert.That(LibcForTests.MkFifo(fifo, 0x180), Is.Zero);
        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapFile(fifo, 4096))!;
        Assert.That(e.Message, Does.Contain(fifo).And.Contain("FIFO").And.Contain("not a regular file"));
    }

    [Test]
    public void TheRegionThatCreatedItsFileRemovesItOnDispose()
    {
        string path = In("mine");
        var created = MappedRegion.MapFile(path, 4096, new SharedFileOptions { Creation = FileCreation.CreateNew });
        var opened = MappedRegion.MapFile(path, 4096); // a peer's mapping of the same file
        opened.Dispose();
        Assert.That(File.Exists(path), Is.True, "a region that only opened the file leaves it");
        created.Dispose();
        Assert.That(File.Exists(path), Is.False, "whoever creates the file removes it");
    }

    [Test]
    public void AFileReplacedMeanwhileIsNotRemovedByTheRegionThatCreatedTheOldOne()
    {
        string path = In("replaced");
        var created = MappedRegion.MapFile(path, 4096, new SharedFileOptions { Creation = FileCreation.CreateNew });
        File.Delete(path);
        File.WriteAllText(path, "someone else's");
        created.Dispose();
        Assert.That(File.ReadAllText(path), Is.EqualTo("someone else's"));
    }

    [Test]
    public void RemoveOnDisposeCanBeTurnedOff()
    {
        string path = In("kept");
        MappedRegion.MapFile(path, 4096, new SharedFileOptions { Creation = FileCreation.CreateNew, RemoveOnDispose = false }).Dispose();
        Assert.That(File.Exists(path), Is.True);
    }

    [Test]
    public void ASecondMappingMapsTheSameFileEvenAfterItsPathIsReplaced()
    {
        string path = In("again");
        using var a = MappedRegion.MapFile(path, 4096, create: true);
        a.Io.WriteU32(0, 0xA11CE);
        File.Delete(path);
        File.WriteAllBytes(path, new byte[4096]); // a stranger's file at the old name
        using var b = a.MapAgain();
        Assert.That(b.Io.ReadU32(0), Is.EqualTo(0xA11CEu));
    }
}
