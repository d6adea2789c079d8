using AmpCan.SharedMem;
using Tmds.Linux;

namespace AmpCan.Tests.SharedMem;

/// <summary>What an error says a file is, for every type, including the ones with no name (an eventfd's anonymous inode).</summary>
public class FileKindTests
{
    [TestCase(0x8180u, "a regular file")]
    [TestCase(0xC180u, "a socket")]
    [TestCase(0x0180u, "an anonymous inode (an eventfd, epoll or timer descriptor)")]
    [TestCase(0xE180u, "a file of type 016")]
    public void EveryModeHasAName(uint mode, string said) => Assert.That(Posix.KindOf((mode_t)mode), Is.EqualTo(said));
}
