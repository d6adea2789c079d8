using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.Rpmsg.Wire;

namespace AmpCan.Tests;

/// <summary>Remoteproc checks board files without knowing rpmsg's types; the sizes it checks against are rpmsg's own.</summary>
public class BoardRpmsgSizesTests
{
    [Test]
    public void TheBoardSchemasRpmsgSizesAreRpmsgsWireSizes()
    {
        Assert.Multiple(() =>
        {
            Assert.That(RpmsgSpec.HeaderSize, Is.EqualTo(RpmsgHeader.Size));
            Assert.That(RpmsgSpec.NameServiceMessageSize, Is.EqualTo(NameServiceMessage.Size));
            Assert.That(RpmsgSpec.NameSize, Is.EqualTo(NameServiceMessage.NameSize));
            Assert.That(RpmsgSpec.LinuxMaxBuffers, Is.EqualTo(RpmsgHostOptions.LinuxMaxBuffers));
        });
    }
}
