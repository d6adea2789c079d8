using AmpCan.Remoteproc.Lifecycle.Mechanisms;

namespace AmpCan.Tests.Remoteproc.Lifecycle.Mechanisms;

/// <summary>Attach-only: always reported running (the host attaches), never started, held or stopped by AmpCan; detaching is nothing.</summary>
public class AttachOnlyMechanismTests
{
    [Test]
    public void ItIsRunningAndCannotBeStarted()
    {
        var mechanism = new AttachOnlyMechanism();
        Assert.That((mechanism.Probe(), mechanism.CanStart, mechanism.LoadsImage), Is.EqualTo((CoreRunState.Running, false, false)));
    }

    [Test]
    public void StartHoldAndStopRefuseNamingTheBootloader()
    {
        var mechanism = new AttachOnlyMechanism();
        foreach ((string what, TestDelegate call) in new (string, TestDelegate)[]
        {
            ("start", () => mechanism.Start("m4.elf", CancellationToken.None)),
            ("hold", mechanism.Hold),
            ("stop", mechanism.Stop),
        })
            Assert.That(Assert.Throws<CoreMechanismException>(call)!.Message,
                Does.Contain($"AmpCan cannot {what} it: a bootloader starts this core"), what);
    }

    [Test]
    public void DetachIsNothing() => Assert.DoesNotThrow(new AttachOnlyMechanism().Detach);
}
