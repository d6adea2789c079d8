using System.Diagnostics;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.SocketCan;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.VirtioCan;

/// <summary>
/// What a SocketCAN port does where its interface is not (this machine's kernel may lack CAN altogether): it says so,
/// answers Down, keeps looking, and stops at once when disposed. The port on a real kernel's vcan is tested in the
/// kernel-VM guest (AmpCan.Tests' SocketCanGuestTests).
/// </summary>
public class SocketCanPortTests
{
    private sealed class LineLogger : ILogger
    {
        private readonly List<string> _lines = [];
        public string[] Lines { get { lock (_lines) return [.. _lines]; } }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines) _lines.Add($"{logLevel}: {formatter(state, exception)}");
        }
    }

    [Test]
    public void AMissingInterfaceIsSaidOnceAnsweredDownAndDisposingDoesNotWaitForTheNextLook()
    {
        var log = new LineLogger();
        var port = new SocketCanPort("ampcan-none0", new SocketCanPortOptions { RetryInterval = TimeSpan.FromMinutes(5) }, log);
        Assert.That(port.State, Is.EqualTo(SocketCanPortState.Missing));
        Assert.That(port.Send(new CanFrame { Id = 0x123, Length = 1 }), Is.EqualTo(CanSendResult.Down));
        Assert.That(port.Send(new CanFrame { Id = 0x123, Length = 1 }), Is.EqualTo(CanSendResult.Down));
        Assert.That(port.TryReceive(out _), Is.False);
        Assert.That(log.Lines, Has.Length.EqualTo(1));
        Assert.That(log.Lines[0], Does.StartWith("Warning: ampcan-none0: ").And.Match("no such CAN interface|no SocketCAN raw sockets"));
        Assert.That(log.Lines[0], Does.Contain("answered Down"));
        var clock = Stopwatch.StartNew();
        port.Dispose();
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "the reader waits out its 5-minute retry interval");
    }

    [TestCase("")]
    [TestCase("a-name-too-long-for-linux")]
    public void ANameLinuxCannotHoldIsRefusedWithTheName(string name) =>
        Assert.That(() => new SocketCanPort(name), Throws.ArgumentException);

    [Test]
    public void OptionsOutOfRangeAreRefused()
    {
        Assert.That(() => new SocketCanPort("vcan0", new SocketCanPortOptions { Capacity = 0 }), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new SocketCanPort("vcan0", new SocketCanPortOptions { EchoRoom = 0 }), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new SocketCanPort("vcan0", new SocketCanPortOptions { EchoLossTimeout = TimeSpan.Zero }), Throws.ArgumentException.With.Message.Contains("echo loss timeout"));
        Assert.That(() => new SocketCanPort("vcan0", new SocketCanPortOptions { RetryInterval = TimeSpan.Zero }), Throws.ArgumentException.With.Message.Contains("retry interval"));
        Assert.That(() => new SocketCanPort("vcan0", new SocketCanPortOptions { Filters = new CanFilter[CanFilter.MaxCount + 1] }), Throws.ArgumentException);
    }
}
