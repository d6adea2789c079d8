using System.Collections.Concurrent;
using AmpCan.Remoteproc.Lifecycle;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace AmpCan.Tests.Remoteproc.Lifecycle;

/// <summary>
/// The lifecycle's sequencing, with sessions the test crashes at will and a clock it moves: states as Linux names
/// them, recovery enabled and disabled, the single-shot recover, crash-loop back-off, stop during a back-off, and a
/// crash of a session already replaced. The sessions of a real board are tested with the host (BoardLifecycleTests).
/// </summary>
public class RemoteCoreLifecycleTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private sealed class Session(CoreStartMode mode) : IRemoteCoreSession
    {
        private readonly TaskCompletionSource<string> _crash = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CoreStartMode Mode => mode;
        public bool Disposed, Detached;
        public Task<string> Crashed => _crash.Task;
        public void Crash(string why) => _crash.TrySetResult(why);
        public void Detach() => Detached = true;
        public void Dispose() => Disposed = true;
    }

    /// <summary>A lifecycle whose sessions are kept in order; a start fails while <see cref="FailStarts"/> is above 0.</summary>
    private sealed class Core : IDisposable
    {
        public readonly List<Session> Sessions = [];
        public readonly BlockingCollection<RemoteCoreState> States = [];
        public readonly FakeTimeProvider Clock = new();
        public readonly CapturingLoggerFactory Logs = new();
        public readonly RemoteCoreLifecycle Lifecycle;
        public int FailStarts;

        public Core(RemoteCoreLifecycleOptions? options = null)
        {
            Lifecycle = new RemoteCoreLifecycle("m4", Begin, options, Logs.CreateLogger("test"), Clock);
            Lifecycle.StateChanged += States.Add;
        }

        private IRemoteCoreSession Begin(CoreStartMode mode, CancellationToken cancellation)
        {
            lock (Sessions)
            {
                if (FailStarts > 0 && FailStarts-- > 0) throw new InvalidOperationException("test: the firmware did not come up");
                var s = new Session(mode);
                Sessions.Add(s);
                return s;
            }
        }

        public Session Last { get { lock (Sessions) return Sessions[^1]; } }

        public int Started { get { lock (Sessions) return Sessions.Count; } }

        /// <summary>The next state change, or a failure naming what was awaited.</summary>
        public RemoteCoreState Next(string what)
        {
            Assert.That(States.TryTake(out RemoteCoreState s, Patience), Is.True, $"no state change within {Patience}: {what}");
            return s;
        }

        public void Dispose() => Lifecycle.Dispose();
    }

    private static void WaitUntil(Func<bool> condition, string what) =>
        Assert.That(SpinWait.SpinUntil(condition, Patience), Is.True, $"not within {Patience}: {what}");

    [Test]
    public void StartStopAttachAndDetachGoThroughLinuxsStates()
    {
        using var core = new Core();
        Assert.That(core.Lifecycle.State, Is.EqualTo(RemoteCoreState.Offline));
        core.Lifecycle.Start();
        Assert.That((core.Next("start"), core.Last.Mode), Is.EqualTo((RemoteCoreState.Running, CoreStartMode.Boot)));
        Assert.That(() => core.Lifecycle.Start(), Throws.InvalidOperationException.With.Message.EqualTo("cannot start remote m4: it is running"));
        core.Lifecycle.Detach();
        Assert.That((core.Next("detach"), core.Sessions[0].Detached, core.Sessions[0].Disposed), Is.EqualTo((RemoteCoreState.Detached, true, false)),
            "detached: the devices let go, the core not stopped");
        core.Lifecycle.Start();
        Assert.That((core.Next("start after detach"), core.Last.Mode), Is.EqualTo((RemoteCoreState.Attached, CoreStartMode.Attach)),
            "starting a detached core attaches to it, as Linux's rproc_boot does");
        core.Lifecycle.Stop();
        Assert.That((core.Next("stop"), core.Last.Disposed), Is.EqualTo((RemoteCoreState.Offline, true)));
        core.Lifecycle.Attach();
        Assert.That((core.Next("attach"), core.Last.Mode), Is.EqualTo((RemoteCoreState.Attached, CoreStartMode.Attach)));
        Assert.That(RemoteCoreLifecycle.Name(core.Lifecycle.State), Is.EqualTo("attached"));
    }

    [Test]
    public void ACrashTearsTheSessionDownAndRecoveryServesANewOne()
    {
        using var core = new Core();
        IRemoteCoreSession? crashing = null;
        core.Lifecycle.Crashing += (s, _) => crashing = s;
        core.Lifecycle.Start();
        core.Next("start");
        Session first = core.Last;
        first.Crash("vdev 0 status NEEDS_RESET");
        Assert.That(core.Next("crash"), Is.EqualTo(RemoteCoreState.Crashed));
        Assert.That(core.Next("recovery"), Is.EqualTo(RemoteCoreState.Running), "the first recovery in a row is at once");
        Assert.That((first.Disposed, ReferenceEquals(crashing, first), core.Started), Is.EqualTo((true, true, 2)));
        Assert.That((core.Lifecycle.Crashes, core.Lifecycle.LastCrash), Is.EqualTo((1, "vdev 0 status NEEDS_RESET")));
        Assert.That(core.Lifecycle.LastRecoveryTime, Is.Not.Null);
        Assert.That(core.Logs.AtLeast(LogLevel.Error), Has.One.Contains("crashed (vdev 0 status NEEDS_RESET)"));
    }

    [Test]
    public void AReportedCrashIsHandledAsOneTheWatchSawAndItsTaskEndsWhenTheSessionIsTornDown()
    {
        using var core = new Core();
        Assert.That(() => core.Lifecycle.ReportCrash("debugfs"), Throws.InvalidOperationException.With.Message.EqualTo("cannot crash remote m4: it is offline"));
        core.Lifecycle.Start();
        core.Next("start");
        Session first = core.Last;
        Task tornDown = core.Lifecycle.ReportCrash("crash reported through the control socket");
        Assert.That(tornDown.Wait(Patience), Is.True);
        Assert.That(first.Disposed, Is.True, "torn down before the report is answered");
        Assert.That(core.Next("crash"), Is.EqualTo(RemoteCoreState.Crashed));
        Assert.That(core.Next("recovery"), Is.EqualTo(RemoteCoreState.Running), "recovery follows the policy, as for a crash the watch saw");
        Assert.That((core.Lifecycle.Crashes, core.Lifecycle.LastCrash), Is.EqualTo((1, "crash reported through the control socket")));
    }

    [Test]
    public void WithRecoveryDisabledItStaysCrashedUntilRecoveredOnce()
    {
        using var core = new Core(new RemoteCoreLifecycleOptions { Recovery = RecoveryPolicy.Disabled });
        core.Lifecycle.Start();
        core.Next("start");
        core.Last.Crash("the remote process exited (code 139)");
        Assert.That(core.Next("crash"), Is.EqualTo(RemoteCoreState.Crashed));
        core.Clock.Advance(TimeSpan.FromHours(1));
        Assert.That(core.States.TryTake(out _, TimeSpan.FromMilliseconds(200)), Is.False, "no recovery on its own");
        Assert.That(core.Started, Is.EqualTo(1));
        Assert.That(core.Lifecycle.LastRecoveryTime, Is.Null, "nothing recovered yet");
        core.Lifecycle.Recover();
        Assert.That((core.Next("recover"), core.Started), Is.EqualTo((RemoteCoreState.Running, 2)));
        Assert.That(core.Lifecycle.LastRecoveryTime, Is.Not.Null, "the recover command's recovery is timed too");
        Assert.That(core.Logs.AtLeast(LogLevel.Warning), Has.Some.Contains("recovery is disabled"));
    }

    [Test]
    public void ACrashLoopBacksOffDoublingAndIsFinallyLeftCrashed()
    {
        var options = new RemoteCoreLifecycleOptions { FirstBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(3), CrashLoopLimit = 4 };
        Assert.That(Enumerable.Range(1, 5).Select(options.Backoff),
            Is.EqualTo(new[] { TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3) }));
        using var core = new Core(options);
        core.Lifecycle.Start();
        core.Next("start");
        for (int crash = 1; crash <= 4; crash++)
        {
            core.Last.Crash($"crash {crash}");
            Assert.That(core.Next($"crash {crash}"), Is.EqualTo(RemoteCoreState.Crashed));
            TimeSpan wait = options.Backoff(crash);
            if (wait > TimeSpan.Zero)
            {
                WaitUntil(() => core.Logs.AtLeast(LogLevel.Warning).Any(l => l.Contains($"crash {crash} in a row")), $"the back-off before recovery {crash} begun");
                core.Clock.Advance(wait - TimeSpan.FromMilliseconds(1));
                Assert.That(core.States.TryTake(out _, TimeSpan.FromMilliseconds(100)), Is.False, $"not recovered before its {wait} back-off");
                core.Clock.Advance(TimeSpan.FromMilliseconds(1));
            }
            Assert.That(core.Next($"recovery {crash}"), Is.EqualTo(RemoteCoreState.Running));
        }
        core.Last.Crash("crash 5");
        Assert.That(core.Next("crash 5"), Is.EqualTo(RemoteCoreState.Crashed));
        WaitUntil(() => core.Logs.AtLeast(LogLevel.Error).Any(l => l.Contains("crashed 4 times in a row")), "the give-up line");
        core.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.That(core.States.TryTake(out _, TimeSpan.FromMilliseconds(200)), Is.False, "left crashed");
        Assert.That(core.Started, Is.EqualTo(5));
    }

    [Test]
    public void ACrashAfterAStableRunIsTheFirstInARowAgain()
    {
        var options = new RemoteCoreLifecycleOptions { FirstBackoff = TimeSpan.FromSeconds(5), StableAfter = TimeSpan.FromMinutes(1) };
        using var core = new Core(options);
        core.Lifecycle.Start();
        core.Next("start");
        core.Last.Crash("one");
        core.Next("crash one");
        core.Next("recovered at once");
        core.Clock.Advance(TimeSpan.FromMinutes(2)); // a long, healthy run
        core.Last.Crash("two");
        core.Next("crash two");
        Assert.That(core.Next("recovered at once again"), Is.EqualTo(RemoteCoreState.Running), "no back-off: the run between was stable");
    }

    [Test]
    public void AFailedRecoveryCountsAsACrashAndIsRetriedAfterItsBackoff()
    {
        using var core = new Core(new RemoteCoreLifecycleOptions { FirstBackoff = TimeSpan.FromSeconds(2) });
        core.Lifecycle.Start();
        core.Next("start");
        core.FailStarts = 1;
        core.Last.Crash("watchdog: no heartbeat for 500 ms");
        core.Next("crash");
        WaitUntil(() => core.Logs.AtLeast(LogLevel.Error).Any(l => l.Contains("recovery failed: test: the firmware did not come up")), "the failed recovery");
        WaitUntil(() => core.Logs.AtLeast(LogLevel.Warning).Any(l => l.Contains("crash 2 in a row; recovering in")), "the back-off armed");
        core.Clock.Advance(TimeSpan.FromSeconds(2));
        Assert.That((core.Next("the retry"), core.Started), Is.EqualTo((RemoteCoreState.Running, 2)));
    }

    [Test]
    public void StopDuringABackoffEndsTheRecoveryAndACrashOfAStoppedSessionIsIgnored()
    {
        using var core = new Core(new RemoteCoreLifecycleOptions { FirstBackoff = TimeSpan.FromSeconds(30) });
        core.Lifecycle.Start();
        core.Next("start");
        core.Last.Crash("one");
        core.Next("crash one");
        core.Next("recovered at once");
        core.Last.Crash("two");
        core.Next("crash two");
        WaitUntil(() => core.Logs.AtLeast(LogLevel.Warning).Any(l => l.Contains("recovering in")), "the back-off begun");
        core.Lifecycle.Stop();
        Assert.That(core.Next("stop"), Is.EqualTo(RemoteCoreState.Offline), "Stop did not wait for the 30 s back-off");
        core.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.That(core.States.TryTake(out _, TimeSpan.FromMilliseconds(200)), Is.False, "the cancelled recovery started nothing");

        core.Lifecycle.Start();
        core.Next("start again");
        Session old = core.Last;
        core.Lifecycle.Recover(); // a running core torn down and started anew
        core.Next("recovered by hand");
        old.Crash("late news from the replaced session");
        Assert.That(core.States.TryTake(out _, TimeSpan.FromMilliseconds(200)), Is.False, "a replaced session's crash is not the core's");
        Assert.That(core.Lifecycle.State, Is.EqualTo(RemoteCoreState.Running));
    }
}
