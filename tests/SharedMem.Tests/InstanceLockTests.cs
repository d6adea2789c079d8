using System.Diagnostics;
using AmpCan.SharedMem;

namespace AmpCan.Tests.SharedMem;

/// <summary>One instance per resource: a second holder is refused with the first named; a dead holder's lock is taken over.</summary>
public class InstanceLockTests
{
    private string _path = null!;

    [SetUp]
    public void PickPath() => _path = $"/dev/shm/ampcan-lock-{Guid.NewGuid():N}.lock";

    [TearDown]
    public void RemoveLeftovers() => File.Delete(_path);

    /// <summary>
    /// Another process taking a classic record lock (lockf, F_SETLK) on the lock file; record locks and OFD locks
    /// conflict, so it plays a second instance. It prints "locked" or "busy", then holds what it got for <paramref name="holdSeconds"/>.
    /// </summary>
    private Process SecondProcess(int holdSeconds)
    {
        const string Script = """
            import fcntl, os, sys, time
            fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                print("busy", flush=True)
                sys.exit(1)
            print("locked", flush=True)
            time.sleep(int(sys.argv[2]))
            """;
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Script);
        psi.ArgumentList.Add(_path);
        psi.ArgumentList.Add(holdSeconds.ToString());
        try
        {
            return Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new IgnoreException("SKIPPED: python3 is not installed; it plays the second process (.ci/run installs it)");
        }
    }

    private static string FirstLine(Process p)
    {
        Task<string?> line = p.StandardOutput.ReadLineAsync();
        Assert.That(line.Wait(TimeSpan.FromSeconds(30)), Is.True, "the second process did not answer");
        return line.Result ?? "(nothing: " + p.StandardError.ReadToEnd() + ")";
    }

    private string[] Record() => File.ReadAllText(_path).Split('\n');

    [Test]
    public void ASecondHolderIsRefusedWithTheFirstNamed()
    {
        using (InstanceLock first = InstanceLock.Acquire(_path, "board 'sim' (host)"))
        {
            var e = Assert.Throws<InstanceLockedException>(() => InstanceLock.Acquire(_path, "board 'sim' (host)"))!;
            Assert.Multiple(() =>
            {
                Assert.That(e.HolderPid, Is.EqualTo(Environment.ProcessId));
                Assert.That(e.HolderCommand, Is.Not.Null.And.Not.Empty);
                Assert.That(e.Message, Does.Contain("board 'sim' (host)").And.Contain(_path)
                    .And.Contain($"pid {Environment.ProcessId}").And.Contain(e.HolderCommand!));
                Assert.That(Record()[0], Is.EqualTo(Environment.ProcessId.ToString()), "the loser did not overwrite the record");
            });
        }
        Assert.That(File.Exists(_path), Is.False, "the holder removes its lock file");
        using InstanceLock again = InstanceLock.Acquire(_path);
        Assert.That(again.LockPath, Is.EqualTo(_path));
    }

    [Test]
    public void AnotherProcessSeesTheLockHeld()
    {
        using (InstanceLock.Acquire(_path))
        {
            using Process busy = SecondProcess(0);
            Assert.That(FirstLine(busy), Is.EqualTo("busy"));
        }
        using Process free = SecondProcess(0);
        Assert.That(FirstLine(free), Is.EqualTo("locked"), "released");
        Assert.That(free.WaitForExit(TimeSpan.FromSeconds(30)), Is.True);
    }

    [Test]
    public void AHolderInAnotherProcessIsRefusedAndItsLockTakenOverOnceItIsKilled()
    {
        using Process holder = SecondProcess(120);
        try
        {
            Assert.That(FirstLine(holder), Is.EqualTo("locked"));
            var e = Assert.Throws<InstanceLockedException>(() => InstanceLock.Acquire(_path, "remote of board 'x'"))!;
            Assert.That(e.HolderPid, Is.Null, "that holder recorded nothing");
            Assert.That(e.Message, Does.Contain("remote of board 'x'").And.Contain("has not recorded itself"));

            holder.Kill();
            Assert.That(holder.WaitForExit(TimeSpan.FromSeconds(30)), Is.True);
            using InstanceLock taken = InstanceLock.Acquire(_path);
            Assert.That(Record()[0], Is.EqualTo(Environment.ProcessId.ToString()));
        }
        finally
        {
            if (!holder.HasExited) holder.Kill();
        }
    }

    [Test]
    public void AStaleLockFileFromADeadHolderIsTakenOver()
    {
        File.WriteAllText(_path, "999999\nampcan remote-sim --board gone.json\n");
        using InstanceLock taken = InstanceLock.Acquire(_path);
        string[] record = Record();
        Assert.That(record[0], Is.EqualTo(Environment.ProcessId.ToString()));
        Assert.That(record[1], Does.Not.Contain("gone.json"), "the old record is replaced, not appended to");
    }

    [Test]
    public void AProgramReadingTheLockFileDoesNotHoldOffTheNextTaker()
    {
        // .NET opens files with a shared flock(2) to emulate FileShare: a lock of that kind would be blocked by any reader.
        File.WriteAllText(_path, "999999\nold\n");
        using var reader = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using InstanceLock taken = InstanceLock.Acquire(_path);
        Assert.That(Record()[0], Is.EqualTo(Environment.ProcessId.ToString()), "and the holder's record can be read meanwhile");
    }

    [Test]
    public void ASymbolicLinkAtTheLockPathIsRefused()
    {
        string target = _path + ".target";
        File.WriteAllText(target, "keep");
        File.CreateSymbolicLink(_path, target);
        try
        {
            var e = Assert.Throws<SharedMemoryException>(() => InstanceLock.Acquire(_path))!;
            Assert.That(e.Message, Does.Contain(_path).And.Contain("symbolic link"));
            Assert.That(File.ReadAllText(target), Is.EqualTo("keep"));
        }
        finally
        {
            File.Delete(target);
        }
    }

    [Test]
    public void AHolderRecordWithControlCharactersIsShownEscaped()
    {
        using (InstanceLock first = InstanceLock.Acquire(_path))
        {
            // The record is trusted only as far as a log line goes: nobody writes escape codes through it.
            File.WriteAllText(_path, "4242\nevil \u001b[2J program\n");
            var e = Assert.Throws<InstanceLockedException>(() => InstanceLock.Acquire(_path))!;
            Assert.That(e.HolderPid, Is.EqualTo(4242));
            Assert.That(e.Message, Does.Contain("evil ?[2J program").And.Not.Contain("\u001b"));
        }
    }
}
