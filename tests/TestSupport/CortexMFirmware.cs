namespace AmpCan.Tests;

/// <summary>
/// The Cortex-M4 firmware of tests/firmware/cortex-m (an rpmsg vdev and a trace buffer in its .resource_table,
/// linked at STM32MP157's addresses), built once per test run with Debian's gcc-arm-none-eabi into a temporary
/// directory. A test project that uses it links this file, ArmBinutils.cs and ../KernelVmHarness.cs, and copies
/// ../firmware/cortex-m/* to firmware/cortex-m/ in its output (as Remoteproc.Tests.csproj does).
/// </summary>
internal static class CortexMFirmware
{
    /// <summary>The Debian package that brings the cross compiler (and, as a dependency, binutils-arm-none-eabi).</summary>
    public const string Package = "gcc-arm-none-eabi";

    private static readonly Lazy<string> Image = new(BuildOnce);

    /// <summary>The firmware's sources, as copied next to the test assembly.</summary>
    public static string SourceDirectory => Path.Combine(TestContext.CurrentContext.TestDirectory, "firmware", "cortex-m");

    /// <summary>
    /// The path of the built ELF image, built on the first call. Ignores the calling test or fixture, saying which
    /// package to install, when the cross toolchain is not on PATH; fails it when the build fails.
    /// </summary>
    public static string Build() => Image.Value;

    private static string BuildOnce()
    {
        DirectoryInfo output = Directory.CreateTempSubdirectory("ampcan-cortex-m-");
        // Removed when the test host ends; a host that is killed leaves it in the temporary directory.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { output.Delete(recursive: true); }
            catch (IOException) { } // already gone, or busy: nothing a test can do about it at exit
        };
        var (code, _, stderr) = KernelVmHarness.Run("bash", [Path.Combine(SourceDirectory, "build.sh"), output.FullName], TimeSpan.FromMinutes(2));
        // build.sh exits 3 when a tool is missing (and names it), the kernel-VM scripts' code for "cannot run here".
        if (code == 3)
            Assert.Ignore($"SKIPPED: no cross toolchain for the Cortex-M test firmware: {stderr.Trim()}. Install Debian's {Package} (tests/run.sh does).");
        Assert.That(code, Is.Zero, $"building tests/firmware/cortex-m failed:\n{stderr}");
        return Path.Combine(output.FullName, "cm4-rpmsg.elf");
    }
}
