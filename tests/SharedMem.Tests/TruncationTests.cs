using System.Runtime.Versioning;
using AmpCan.SharedMem;
using static Tmds.Linux.LibC;

namespace AmpCan.Tests.SharedMem;

/// <summary>
/// A peer that truncates the shared file makes our next access fault (SIGBUS ends the process): memfds we create are
/// sealed so it cannot, and what we receive or open reports whether it still could.
/// </summary>
[SupportedOSPlatform("linux")]
public class TruncationTests
{
    private static int RawMemfd(string name, long size, int seals)
    {
        int fd = LibcForTests.MemfdCreate(name, (uint)(MFD_CLOEXEC | MFD_ALLOW_SEALING));
        Assert.That(fd, Is.GreaterThanOrEqualTo(0), "memfd_create");
        Assert.That(ftruncate(fd, size), Is.Zero, "ftruncate");
        if (seals != 0) Assert.That(fcntl(fd, F_ADD_SEALS, seals), Is.Zero, "F_ADD_SEALS");
        return fd;
    }

    [Test]
    public void APeerHoldingOurMemfdCannotShrinkOrGrowIt()
    {
        using var region = MappedRegion.CreateMemfd("t-sealed", 8192);
        region.Io.WriteU32(8188, 0x5EA1ED);
        int peer = MappedRegionTests.DuplicateFd(region.FileDescriptor); // what the peer receives over SCM_RIGHTS
        try
        {
            // Asserted before any access: without the seals this truncation succeeds and the read below would end the test run.
            int rc = ftruncate(peer, 0);
            int e = errno;
            Assert.That(rc, Is.EqualTo(-1), "truncating to 0 must be refused");
            Assert.That(e, Is.EqualTo(EPERM));
            Assert.That(ftruncate(peer, 1 << 20), Is.EqualTo(-1), "growing must be refused too");
            Assert.That(fcntl(peer, F_ADD_SEALS, F_SEAL_WRITE), Is.EqualTo(-1), "and the seals themselves are final");
            Assert.Multiple(() =>
            {
                Assert.That(region.Io.ReadU32(8188), Is.EqualTo(0x5EA1EDu));
                Assert.That(region.Seals, Is.EqualTo(FileSeals.Shrink | FileSeals.Grow | FileSeals.Seal));
                Assert.That(region.PeerCanShrink, Is.False);
                Assert.That(region.ExposureWarning, Is.Null);
            });
        }
        finally
        {
            close(peer);
        }
    }

    [Test]
    public void AReceivedMemfdThatIsNotSealedIsReportedAndCanBeRefused()
    {
        int fd = RawMemfd("t-unsealed", 4096, seals: 0);
        using (var region = MappedRegion.MapMemfd(MappedRegionTests.DuplicateFd(fd), 4096, name: "peer-unsealed"))
        {
            Assert.That(region.Seals, Is.EqualTo(FileSeals.None));
            Assert.That(region.PeerCanShrink, Is.True);
            Assert.That(region.ExposureWarning, Does.Contain("peer-unsealed").And.Contain("SIGBUS"));
        }
        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapMemfd(fd, 4096, name: "peer-unsealed", requireShrinkSealed: true))!;
        Assert.That(e.Message, Does.Contain("peer-unsealed").And.Contain("F_SEAL_SHRINK"));
    }

    [Test]
    public void AReceivedMemfdSealedAgainstShrinkingIsAccepted()
    {
        int fd = RawMemfd("t-shrink-sealed", 4096, F_SEAL_SHRINK);
        using var region = MappedRegion.MapMemfd(fd, 4096, name: "peer-sealed", requireShrinkSealed: true);
        Assert.Multiple(() =>
        {
            Assert.That(region.Seals, Is.EqualTo(FileSeals.Shrink));
            Assert.That(region.PeerCanShrink, Is.False);
            Assert.That(region.ExposureWarning, Is.Null);
        });
    }

    [Test]
    public void AReceivedMemfdTooSmallIsRefusedEvenWhenSealed()
    {
        int fd = RawMemfd("t-small-sealed", 4096, F_SEAL_SHRINK | F_SEAL_GROW);
        var e = Assert.Throws<SharedMemoryException>(() => MappedRegion.MapMemfd(fd, 8192, name: "peer-small", requireShrinkSealed: true))!;
        Assert.That(e.Message, Does.Contain("peer-small").And.Contain("4096").And.Contain("8192"));
    }

    [TestCase("/dev/shm")]
    [TestCase(null)]
    public void APlainFileIsReportedAsTruncatableByItsWriters(string? directory)
    {
        // tmpfs files carry F_SEAL_SEAL from birth; disk files have no seals at all (EINVAL): neither can be sealed.
        string path = Path.Combine(directory ?? Path.GetTempPath(), $"ampcan-trunc-{Guid.NewGuid():N}");
        try
        {
            using var region = MappedRegion.MapFile(path, 4096, new SharedFileOptions { Creation = FileCreation.CreateNew });
            Assert.Multiple(() =>
            {
                Assert.That(region.Seals & FileSeals.Shrink, Is.EqualTo(FileSeals.None));
                Assert.That(region.PeerCanShrink, Is.True);
                Assert.That(region.ExposureWarning, Does.Contain(path).And.Contain("truncate").And.Contain("SIGBUS"));
                Assert.That(region.WritableByOtherUsers, Is.False, "created 0600");
            });
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void AFileOthersMayWriteIsReported()
    {
        string path = $"/dev/shm/ampcan-open-{Guid.NewGuid():N}";
        try
        {
            File.WriteAllBytes(path, new byte[4096]);
            File.SetUnixFileMode(path, (UnixFileMode)0x1B6 /* 0666 */);
            using var region = MappedRegion.MapFile(path, 4096);
            Assert.That(region.WritableByOtherUsers, Is.True);
            Assert.That(region.ExposureWarning, Does.Contain("writable by users other than its owner"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
