using System.Collections.Concurrent;
using AmpCan.SharedMem.Doorbells;
using AmpCan.VhostUser;
using Microsoft.Extensions.Logging;

namespace AmpCan.Tests.VhostUser;

/// <summary>A back end serving a <see cref="LoopbackDevice"/> on a socket in a fresh directory, with its log lines kept.</summary>
public abstract class BackendFixture
{
    // VIRTIO_F_VERSION_1 (bit 32) | VHOST_USER_F_PROTOCOL_FEATURES (bit 30) | VIRTIO_RING_F_INDIRECT_DESC (bit 28).
    protected const ulong OfferedFeatures = 0x1_5000_0000;
    // REPLY_ACK (3) | BACKEND_REQ (5) | CONFIG (9) | RESET_DEVICE (13), for a device with config space.
    protected const ulong OfferedProtocol = 0x2228;
    protected const ulong ReplyAckOnly = 0x8;
    protected const ulong AllProtocol = OfferedProtocol;

    private string _dir = "";
    private NotificationLoop? _loop;
    private protected LoopbackDevice Device = null!;
    private protected VhostUserBackend Backend = null!;
    private protected string SocketPath = "";
    private protected readonly ConcurrentQueue<string> Log = new();

    [SetUp]
    public void StartBackend()
    {
        _dir = Directory.CreateTempSubdirectory("vhost-user-test").FullName;
        SocketPath = Path.Combine(_dir, "sock");
        _loop = new NotificationLoop("vhost-test", NotificationMode.Doorbell);
        _loop.Start();
        Device = new LoopbackDevice();
        Backend = NewBackend(Device, SocketPath, Options);
        Backend.Start();
    }

    private protected virtual VhostUserBackendOptions Options => new();

    private protected VhostUserBackend NewBackend(LoopbackDevice device, string path, VhostUserBackendOptions options) =>
        new(device, path, _loop!, options, new ListLogger(Log));

    [TearDown]
    public void StopBackend()
    {
        Backend?.Dispose();
        _loop?.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>A well-behaved front end: the whole QEMU sequence and a round trip of three sizes.</summary>
    private protected void AssertServesWellBehavedFrontEnd()
    {
        using var fe = new TestFrontEnd(SocketPath);
        ulong features = fe.Handshake(AllProtocol);
        fe.StartQueues(features & ~(1UL << 28) | (1UL << 30));
        fe.PostReceiveBuffers(8);
        foreach (int size in new[] { 1, 100, 512 })
        {
            byte[] data = [.. Enumerable.Range(0, size).Select(i => (byte)(i * 7 + size))];
            Assert.That(fe.RoundTrip(data, 0), Is.EqualTo(data), $"{size} bytes through the device");
        }
    }

    private sealed class ListLogger(ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
