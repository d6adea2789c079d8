using AmpCan.Host.CharDevices;
using AmpCan.RpmsgChar;
using AmpCan.RpmsgChar.FrontEnds;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.Host;

/// <summary>
/// The front end where it cannot serve: under <c>auto</c> one warning and the service runs on; a front end asked for by
/// name that cannot start stops the service with exit code 1 and one critical line naming why.
/// </summary>
public class RpmsgCharFrontEndServiceTests
{
    private sealed class Lifetime : IHostApplicationLifetime
    {
        public bool Stopped;
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void StopApplication() => Stopped = true;
    }

    // A directory nobody may make: mkdir under /proc fails for root too.
    private const string Unmakeable = "/proc/ampcan-test-no-such-place/rpmsg";

    private static (RpmsgCharFrontEndService Service, Lifetime Lifetime, CapturingLoggerFactory Logs) Start(RpmsgCharFrontEndKind kind)
    {
        var logs = new CapturingLoggerFactory();
        var lifetime = new Lifetime();
        var service = new RpmsgCharFrontEndService(new RpmsgCharSettings { FrontEnd = kind, Directory = Unmakeable }, new RpmsgCharDevices(), logs, lifetime);
        service.StartAsync(CancellationToken.None).Wait(TimeSpan.FromSeconds(30));
        return (service, lifetime, logs);
    }

    [Test]
    public void UnderAutoNoFrontEndIsOneWarningAndTheServiceRunsOn()
    {
        if (File.Exists("/dev/cuse")) Assert.Ignore("this machine has /dev/cuse: auto would serve through it (the kernel-VM tests cover that)");
        var (service, lifetime, logs) = Start(RpmsgCharFrontEndKind.Auto);
        Assert.That((service.ExitCode, lifetime.Stopped, service.Directory), Is.EqualTo((0, false, (string?)null)));
        Assert.That(logs.AtLeast(LogLevel.Warning), Has.Exactly(1).StartsWith("no rpmsg_char files: CUSE: open /dev/cuse failed").And.Contains(Unmakeable));
        service.StopAsync(CancellationToken.None).Wait();
    }

    [Test]
    public void AFuseFrontEndThatCannotMountStopsTheServiceNamingWhy()
    {
        var (service, lifetime, logs) = Start(RpmsgCharFrontEndKind.Fuse);
        Assert.That((service.ExitCode, lifetime.Stopped), Is.EqualTo((1, true)));
        Assert.That(logs.AtLeast(LogLevel.Critical), Has.Exactly(1).StartsWith("cannot serve the rpmsg_char files:").And.Contains(Unmakeable));
    }

    [Test]
    public void ACuseFrontEndWithoutDevCuseStopsTheServiceNamingWhy()
    {
        if (File.Exists("/dev/cuse")) Assert.Ignore("this machine has /dev/cuse (the kernel-VM tests serve through it)");
        var (service, lifetime, logs) = Start(RpmsgCharFrontEndKind.Cuse);
        Assert.That((service.ExitCode, lifetime.Stopped), Is.EqualTo((1, true)));
        Assert.That(logs.AtLeast(LogLevel.Critical), Has.Exactly(1).StartsWith("cannot serve the rpmsg_char devices through CUSE: open /dev/cuse failed"));
    }

    [Test]
    public void NoneServesNothingAndSaysSo()
    {
        var (service, lifetime, logs) = Start(RpmsgCharFrontEndKind.None);
        Assert.That((service.ExitCode, lifetime.Stopped, service.Directory), Is.EqualTo((0, false, (string?)null)));
        Assert.That(logs.AtLeast(LogLevel.Warning), Is.Empty);
    }
}
