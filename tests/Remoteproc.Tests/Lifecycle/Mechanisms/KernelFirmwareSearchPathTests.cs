using AmpCan.Remoteproc.Lifecycle.Mechanisms;

namespace AmpCan.Tests.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// The kernel's firmware search path (firmware_class.path, then the four /lib/firmware directories in fw_path's order)
/// and the name that makes the kernel load a board's image: its path relative to the first directory holding the
/// board's firmware directory; a directory the kernel does not search is refused.
/// </summary>
public class KernelFirmwareSearchPathTests
{
    [Test]
    public void ThePathIsTheParameterThenTheFourDirectoriesInTheKernelsOrder()
    {
        Assert.That(KernelFirmwareSearchPath.For("/opt/fw/", "6.12.0"),
            Is.EqualTo(new[] { "/opt/fw", "/lib/firmware/updates/6.12.0", "/lib/firmware/updates", "/lib/firmware/6.12.0", "/lib/firmware" }));
        Assert.That(KernelFirmwareSearchPath.For("", null), Is.EqualTo(new[] { "/lib/firmware/updates", "/lib/firmware" }));
    }

    [Test]
    public void ReadTakesTheParameterAndTheReleaseFromTheirFiles()
    {
        string dir = Directory.CreateTempSubdirectory("ampcan-fwpath-").FullName;
        try
        {
            string parameter = Path.Combine(dir, "path"), release = Path.Combine(dir, "osrelease");
            File.WriteAllText(parameter, "\n"); // as the kernel shows an unset parameter
            File.WriteAllText(release, "6.1.0-rt\n");
            Assert.That(KernelFirmwareSearchPath.Read(parameter, release)[0], Is.EqualTo("/lib/firmware/updates/6.1.0-rt"));
            File.WriteAllText(parameter, "/srv/firmware\n");
            Assert.That(KernelFirmwareSearchPath.Read(parameter, release)[0], Is.EqualTo("/srv/firmware"));
            Assert.That(KernelFirmwareSearchPath.Read(Path.Combine(dir, "absent"), Path.Combine(dir, "absent")),
                Is.EqualTo(new[] { "/lib/firmware/updates", "/lib/firmware" }));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [TestCase("/lib/firmware", "m4.elf", "m4.elf")]
    [TestCase("/lib/firmware/", "m4.elf", "m4.elf")]
    [TestCase("/lib/firmware/ampcan", "m4.elf", "ampcan/m4.elf")]
    [TestCase("/lib/firmware/ampcan", "test/m4.elf", "ampcan/test/m4.elf")]
    [TestCase("/lib/firmware/updates", "m4.elf", "m4.elf")] // updates/ is searched before /lib/firmware: the plain name finds it first
    [TestCase("/lib/firmware/6.12.0/ti", "m4f.elf", "ti/m4f.elf")]
    [TestCase("/opt/fw/r5", "r5.elf", "r5/r5.elf")]
    public void TheNameIsRelativeToTheFirstDirectorySearched(string directory, string image, string name) =>
        Assert.That(KernelFirmwareSearchPath.NameFor(directory, image, KernelFirmwareSearchPath.For("/opt/fw", "6.12.0")), Is.EqualTo(name));

    [TestCase("/lib/firmwares")] // a prefix of the text is not a subdirectory
    [TestCase("/usr/local/firmware")]
    [TestCase("/lib/firmware/../ampcan")]
    public void ADirectoryTheKernelDoesNotSearchIsRefused(string directory) =>
        Assert.That(Assert.Throws<CoreMechanismException>(() => KernelFirmwareSearchPath.NameFor(directory, "m4.elf", KernelFirmwareSearchPath.For(null, null)))!.Message,
            Does.Contain($"'{directory}' is not one the kernel's firmware loader searches (/lib/firmware/updates, /lib/firmware)"));

    [Test]
    public void ARelativeDirectoryIsRefused() =>
        Assert.That(Assert.Throws<CoreMechanismException>(() => KernelFirmwareSearchPath.NameFor("firmware", "m4.elf", KernelFirmwareSearchPath.For(null, null)))!.Message,
            Does.Contain("must be an absolute path"));
}
