using System.Diagnostics;
using System.Text;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Tests.Host;

/// <summary>
/// A board whose only doorbell is of kind polling (the older single-doorbell spelling, no mailboxes) while its
/// notification mode, or the caller's, would park the event loop: nothing can wake a parked loop for a polled channel,
/// so the host polls, and the remote's channels come up and answer.
/// </summary>
[NonParallelizable]
[CancelAfter(60_000)]
public class BoardPolledLoopTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [TestCase(NotificationMode.Adaptive, null)]
    [TestCase(NotificationMode.Doorbell, null)]
    [TestCase(NotificationMode.Polling, NotificationMode.Adaptive)]
    public void APolledDoorbellMakesTheLoopPollWhateverModeWasAsked(NotificationMode boardMode, NotificationMode? asked)
    {
        BoardDescriptor sim = BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));
        BoardDescriptor board = sim with
        {
            Name = $"polled-{Guid.NewGuid():N}"[..20],
            Doorbell = new DoorbellSpec { Kind = DoorbellKind.Polling },
            Notification = sim.Notification with { Mode = boardMode },
        };
        using BoardHost host = BoardHost.Start(board, new BoardHostOptions { Remote = RemoteKind.Simulated, Mode = asked });
        Assert.That(host.Loop.Mode, Is.EqualTo(NotificationMode.Polling), "a parked loop would never see the remote's work");

        var clock = Stopwatch.StartNew();
        RpmsgChannel? echo;
        while ((echo = host.Rpmsg.Channels.FirstOrDefault(c => c.Name == "rpmsg-echo")) is null)
        {
            if (clock.Elapsed > Patience) Assert.Fail("the echo channel was not announced");
            Thread.Yield();
        }
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("client", null, destination: echo.RemoteAddress);
        ep.Send(Encoding.ASCII.GetBytes("polled"));
        using RpmsgMessage reply = ep.Receive(Patience);
        Assert.That(Encoding.ASCII.GetString(reply.Payload), Is.EqualTo("polled"));
    }
}
