namespace AmpCan.Tests.Host;

/// <summary>
/// The virtio-VM bench itself (tests/virtio-vm), with no back-end: the guest boots the kernel prepare.sh installed and
/// can load Linux's rpmsg drivers built from that kernel's source; the exit code, the output and a shared directory
/// come back; a time limit stops it. The tests that serve AmpCan's devices to the guest stand on these.
/// </summary>
[TestFixture, Category("VirtioVm"), NonParallelizable]
public class VirtioVmHarnessTests
{
    private static readonly TimeSpan GuestLimit = TimeSpan.FromSeconds(60);

    [OneTimeSetUp]
    public void PrepareTheBench() => VirtioVmHarness.RequireGuest("the virtio-VM bench's own tests");

    /// <summary>The six rpmsg modules load in the guest (modprobe resolves their dependencies) and are live in /sys/module.</summary>
    [Test]
    public void GuestRunsThePreparedKernelAndLoadsTheRpmsgModules()
    {
        string[] modules = VirtioVmHarness.Facts["rpmsg-modules"].Split(',');
        Assert.That(modules, Is.SupersetOf(new[] { "rpmsg_core", "rpmsg_ns", "virtio_rpmsg_bus", "rpmsg_char", "rpmsg_ctrl", "rpmsg_client_sample" }));
        string script = """
            echo "KERNEL $(uname -r)"
            for m in "$@"; do modprobe "$m" || echo "MODPROBE-FAILED $m"; done
            for m in "$@"; do [ -d "/sys/module/$m" ] && echo "LIVE $m $(cat /sys/module/$m/initstate)"; done
            kernel-clean.sh
            """;
        var run = VirtioVmHarness.Run([], GuestLimit, [], ["bash", "-c", script, "_", .. modules]);
        VirtioVmHarness.AssertGuestRan(run);
        Assert.That(run.Out, Does.Contain($"KERNEL {VirtioVmHarness.Facts["kernel"]}\n"), run.Out + run.Err);
        Assert.That(run.Out, Does.Not.Contain("MODPROBE-FAILED"), run.Out + run.Err);
        foreach (string m in modules) Assert.That(run.Out, Does.Contain($"LIVE {m} live\n"), run.Out + run.Err);
        Assert.That(run.Code, Is.Zero, "kernel-clean.sh found a splat in the guest's kernel log:\n" + run.Out);
    }

    /// <summary>rpmsg_echo, built at prepare time, runs in the guest and says clearly that there is no control device.</summary>
    [Test]
    public void EchoProgramRunsAndNamesTheMissingControlDevice()
    {
        var run = VirtioVmHarness.Run([], GuestLimit, "rpmsg_echo", "0x400");
        VirtioVmHarness.AssertGuestRan(run);
        Assert.That(run.Code, Is.EqualTo(2), run.Out + run.Err);
        Assert.That(run.Err, Does.Contain("cannot open /dev/rpmsg_ctrl0"), run.Out + run.Err);
    }

    /// <summary>The command's exit code, stdout and stderr come back, and a --share directory (a space in its path) both ways.</summary>
    [Test]
    public void ExitCodeOutputAndSharedDirectoryComeBack()
    {
        string dir = Directory.CreateTempSubdirectory("ampcan vvm ").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "to-guest"), "from the host\n");
            var run = VirtioVmHarness.Run([], GuestLimit, ["--share", dir], "bash", "-c",
                """echo on-stdout; echo on-stderr >&2; tr a-z A-Z < "$1/to-guest" > "$1/from-guest"; exit 7""", "_", dir);
            VirtioVmHarness.AssertGuestRan(run);
            Assert.That(run.Code, Is.EqualTo(7), run.Out + run.Err);
            Assert.That(run.Out, Is.EqualTo("on-stdout\n"));
            Assert.That(run.Err, Is.EqualTo("on-stderr\n"));
            Assert.That(File.ReadAllText(Path.Combine(dir, "from-guest")), Is.EqualTo("FROM THE HOST\n"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A guest that outlives its limit is stopped and says 124 (what the tests against back-ends rely on).</summary>
    [Test]
    public void GuestThatOutlivesItsLimitIsStopped()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var run = VirtioVmHarness.Run([], TimeSpan.FromSeconds(20), "sleep", "600");
        Assert.That(run.Code, Is.EqualTo(124), run.Out + run.Err);
        Assert.That(run.Err, Does.Contain("run-guest: timed out after 20s"));
        Assert.That(started.Elapsed, Is.LessThan(TimeSpan.FromSeconds(45)));
    }
}
