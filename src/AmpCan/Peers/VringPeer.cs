using System.Net.Sockets;
using System.Text.Json;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;
using Microsoft.Win32.SafeHandles;

namespace AmpCan.Host.Peers;

/// <summary>What the vring peer process reports when told to stop.</summary>
/// <param name="Chains">Chains the device returned.</param>
/// <param name="Checksum">For a sink, the <see cref="StreamDigest.Value"/> of every payload received, in order; 0 for an echo.</param>
/// <param name="Bytes">For a sink, the readable bytes received; 0 for an echo.</param>
public sealed record VringPeerReport(long Chains, ulong Checksum, long Bytes);

/// <summary>
/// A virtqueue device in a separate process (<c>ampcan vring-peer</c>): it receives the memfd and both eventfds over
/// a UNIX socket, so nothing managed is shared with the driver by accident.
/// </summary>
/// <remarks>
/// Nothing the driver, the kernel or the parameters do ends the process with an unhandled exception: a failure to
/// start (or a lost socket) is one line on standard error and exit code <see cref="StartFailed"/>; a fault while serving (a bad chain, a
/// failing doorbell, a failing epoll) stops serving the queue, is one line, and gives <see cref="QueueFaulted"/>
/// once the driver says stop.
/// </remarks>
public static class VringPeer
{
    /// <summary>Exit code when the peer could not start serving (socket, parameters, descriptors, mapping) or lost the driver's socket.</summary>
    public const int StartFailed = 1;

    /// <summary>Exit code when the queue faulted while served.</summary>
    public const int QueueFaulted = 3;

    /// <summary>How long the peer waits for the parameters message after connecting.</summary>
    public static readonly TimeSpan ParametersTimeout = TimeSpan.FromSeconds(30);

    private const int DescriptorCount = 3; // the memfd, the eventfd we ring, the eventfd we wait on

    /// <summary>Runs the peer with errors on the console's standard error.</summary>
    public static int Run(string socketPath) => Run(socketPath, Console.Error);

    /// <summary>Runs the peer: connects to <paramref name="socketPath"/>, serves until told to stop, reports, exits.</summary>
    public static int Run(string socketPath, TextWriter error) => Run(socketPath, error, ParametersTimeout);

    internal static int Run(string socketPath, TextWriter error, TimeSpan parametersTimeout)
    {
        try
        {
            return Serve(socketPath, error, parametersTimeout);
        }
        catch (Exception e)
        {
            // The peer's whole life is this call: whatever escaped is reported in one line, never as a crash.
            error.WriteLine($"vring-peer: {OneLine(e)}");
            return StartFailed;
        }
    }

    private static int Serve(string socketPath, TextWriter error, TimeSpan parametersTimeout)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e)
        {
            throw new IOException($"cannot connect to the driver's socket '{socketPath}': {e.Message}", e);
        }
        socket.ReceiveTimeout = (int)parametersTimeout.TotalMilliseconds;
        byte[] buf = new byte[4096];
        int n;
        int[] fds;
        try
        {
            n = UnixFdChannel.Receive(socket, buf, out fds);
        }
        catch (SharedMemoryException e) when (e.Errno == Tmds.Linux.LibC.EAGAIN) // the receive timeout passed
        {
            throw new IOException($"the driver sent no parameters within {parametersTimeout.TotalSeconds:F0} s of connecting", e);
        }
        var owned = fds.Select(fd => new SafeFileHandle(fd, ownsHandle: true)).ToList();
        try
        {
            if (n == 0) throw new IOException("the driver closed the socket before sending the parameters");
            if (n == buf.Length) throw new InvalidDataException($"the parameters message is longer than {buf.Length} bytes");
            if (fds.Length != DescriptorCount)
                throw new InvalidDataException($"expected {DescriptorCount} descriptors (memfd, ring eventfd, wait eventfd) with the parameters, got {fds.Length}");
            VringPeerParameters p = VringPeerParameters.Parse(buf.AsSpan(0, n));
            RequireEventFd(fds[1], "ring");
            RequireEventFd(fds[2], "wait");

            owned[0].SetHandleAsInvalid(); // MapMemfd owns the memfd from here, and closes it if it fails
            using MappedRegion region = MappedRegion.MapMemfd(fds[0], p.RegionSize, p.DeviceAddress, "peer-memfd");
            owned[1].SetHandleAsInvalid();
            owned[2].SetHandleAsInvalid();
            using var bell = new EventFdDoorbell(fds[1], fds[2]);
            return Serve(socket, p, region, bell, error);
        }
        finally
        {
            foreach (SafeFileHandle h in owned) h.Dispose();
        }
    }

    private static int Serve(Socket socket, VringPeerParameters p, MappedRegion region, EventFdDoorbell bell, TextWriter error)
    {
        var memory = new MemoryMap(region.Io);
        var ring = SplitRing.Legacy(region.Io.Slice(p.RingOffset, VringLayout.LegacySize(p.QueueSize, p.Align)), p.QueueSize, p.Align);
        var queue = new SplitVirtqueueDevice(ring, memory, p.EventIndex, indirectDescriptors: true);
        if (p.Mode == NotificationMode.Polling) queue.DisableNotifications();
        INotificationHandler handler = p.Role == VringPeerParameters.SinkRole ? new VringSinkDevice(queue, bell) : new VringEchoDevice(queue, bell);
        using var loop = new NotificationLoop("vring-peer", p.Mode);
        Exception? fault = null;
        loop.HandlerFaulted += (_, e) => fault ??= e;
        loop.DoorbellFailed += (_, e) => fault ??= e;
        loop.Add(handler, bell);
        // The loop runs on a thread of ours, so that even a failure of the loop itself (epoll) is a fault of this queue
        // and not an exception that ends the process.
        var thread = new Thread(() =>
        {
            if (p.Cpu >= 0) ThreadAffinity.Pin(p.Cpu);
            try { loop.Run(); }
            catch (Exception e) { fault ??= e; }
        }) { Name = "vring-peer", IsBackground = true };
        thread.Start();

        int got;
        try
        {
            socket.ReceiveTimeout = 0; // serve until told to stop
            socket.Send("R"u8); // ready
            got = socket.Receive(new byte[1]); // any byte means stop and report; end of stream means stop
        }
        finally
        {
            loop.Stop();
            thread.Join();
        }
        if (fault is not null) error.WriteLine($"vring-peer: queue fault: {OneLine(fault)}");
        if (got > 0)
        {
            var report = handler switch
            {
                VringSinkDevice s => new VringPeerReport(s.Chains, s.Digest.Value, s.Digest.Bytes),
                VringEchoDevice e => new VringPeerReport(e.Chains, 0, 0),
                _ => new VringPeerReport(0, 0, 0),
            };
            socket.Send(JsonSerializer.SerializeToUtf8Bytes(report, HostJsonContext.Default.VringPeerReport));
        }
        return fault is null ? 0 : QueueFaulted;
    }

    // A doorbell we ring is written 8 bytes at a time: make sure that lands in an eventfd and nowhere else.
    private static void RequireEventFd(int fd, string which)
    {
        string? target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        if (target != "anon_inode:[eventfd]")
            throw new InvalidDataException($"the {which} doorbell descriptor is not an eventfd (it is {target ?? "unknown"})");
    }

    private static string OneLine(Exception e)
    {
        string message = e is InvalidDataException or IOException or SharedMemoryException or VirtqueueException or SocketException
            ? e.Message
            : $"{e.GetType().Name}: {e.Message}";
        return message.ReplaceLineEndings(" ");
    }
}
