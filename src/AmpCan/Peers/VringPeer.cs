using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Peers;

/// <summary>What the vring peer process is told when it connects: where the ring is and how to serve it.</summary>
public sealed record VringPeerParameters(
    ulong RegionSize, ulong DeviceAddress, ulong RingOffset, int QueueSize, ulong Align,
    bool EventIndex, NotificationMode Mode, string Role, int Cpu = -1);

/// <summary>What the vring peer process reports when told to stop.</summary>
/// <param name="Chains">Chains the device returned.</param>
/// <param name="Checksum">For a sink, the <see cref="StreamDigest.Value"/> of every payload received, in order; 0 for an echo.</param>
/// <param name="Bytes">For a sink, the readable bytes received; 0 for an echo.</param>
public sealed record VringPeerReport(long Chains, ulong Checksum, long Bytes);

/// <summary>
/// A virtqueue device in a separate process (<c>ampcan vring-peer</c>): it receives the memfd and both eventfds over
/// a UNIX socket, so nothing managed is shared with the driver by accident.
/// </summary>
public static class VringPeer
{
    /// <summary>Runs the peer: connects to <paramref name="socketPath"/>, serves until told to stop, reports, exits.</summary>
    public static int Run(string socketPath)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        byte[] buf = new byte[4096];
        int n = UnixFdChannel.Receive(socket, buf, out int[] fds);
        if (n <= 0 || fds.Length != 3) throw new InvalidDataException($"vring-peer: expected parameters and 3 descriptors, got {n} bytes and {fds.Length} descriptors");
        var p = JsonSerializer.Deserialize<VringPeerParameters>(buf.AsSpan(0, n))
            ?? throw new InvalidDataException("vring-peer: empty parameters");

        using MappedRegion region = MappedRegion.MapMemfd(fds[0], p.RegionSize, p.DeviceAddress, "peer-memfd");
        using var bell = new EventFdDoorbell(fds[1], fds[2]);
        var memory = new MemoryMap(region.Io);
        var ring = SplitRing.Legacy(region.Io.Slice(p.RingOffset, VringLayout.LegacySize(p.QueueSize, p.Align)), p.QueueSize, p.Align);
        var queue = new SplitVirtqueueDevice(ring, memory, p.EventIndex, indirectDescriptors: true);
        if (p.Mode == NotificationMode.Polling) queue.DisableNotifications();
        INotificationHandler handler = p.Role == "sink" ? new VringSinkDevice(queue, bell) : new VringEchoDevice(queue, bell);
        using var loop = new NotificationLoop("vring-peer", p.Mode);
        Exception? fault = null;
        loop.HandlerFaulted += (_, e) => fault = e;
        loop.Add(handler, bell);
        loop.Start(p.Cpu);

        socket.Send("R"u8); // ready
        int got = socket.Receive(buf); // any byte or EOF means stop
        loop.Stop();
        if (fault is not null) Console.Error.WriteLine($"vring-peer: queue fault: {fault.Message}");
        var report = handler switch
        {
            VringSinkDevice s => new VringPeerReport(s.Chains, s.Digest.Value, s.Digest.Bytes),
            VringEchoDevice e => new VringPeerReport(e.Chains, 0, 0),
            _ => new VringPeerReport(0, 0, 0),
        };
        if (got > 0) socket.Send(JsonSerializer.SerializeToUtf8Bytes(report));
        return fault is null ? 0 : 3;
    }
}

/// <summary>The driver's handle on a running <c>ampcan vring-peer</c> process.</summary>
public sealed class VringPeerProcess : IDisposable
{
    private readonly Process _process;
    private readonly Socket _socket;

    private VringPeerProcess(Process process, Socket socket)
    {
        _process = process;
        _socket = socket;
    }

    /// <summary>Process id of the peer.</summary>
    public int ProcessId => _process.Id;

    /// <summary>
    /// Starts the peer from the ampcan assembly at <paramref name="ampcanDll"/>, hands it the memfd and the peer's
    /// side of the doorbell, and returns once it serves the ring.
    /// </summary>
    public static VringPeerProcess Start(string ampcanDll, VringPeerParameters parameters, MappedRegion region, EventFdDoorbell peerSide, TimeSpan timeout)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ampcan-peer-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        ProcessStartInfo psi = ProgramLauncher.StartInfo(ampcanDll, "vring-peer", "--socket", path);
        psi.RedirectStandardOutput = false;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the vring peer");
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        try
        {
            Task<Socket> accept = listener.AcceptAsync();
            if (!accept.Wait(timeout))
                throw new TimeoutException($"vring peer (pid {process.Id}) did not connect within {timeout}: {stderr}");
            Socket s = accept.Result;
            File.Delete(path);
            UnixFdChannel.Send(s, JsonSerializer.SerializeToUtf8Bytes(parameters), [region.FileDescriptor, peerSide.RingFd, peerSide.WaitFd]);
            s.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            byte[] ready = new byte[1];
            if (s.Receive(ready) != 1) throw new InvalidOperationException($"vring peer did not become ready: {stderr}");
            return new VringPeerProcess(process, s);
        }
        catch
        {
            if (!process.HasExited) process.Kill();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>Tells the peer to stop and returns its report.</summary>
    public VringPeerReport Stop(TimeSpan timeout)
    {
        _socket.Send("S"u8);
        _socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        byte[] buf = new byte[512];
        int n = _socket.Receive(buf);
        if (!_process.WaitForExit(timeout)) throw new TimeoutException("vring peer did not exit");
        if (n <= 0) throw new InvalidOperationException($"vring peer exited with {_process.ExitCode} and no report");
        return JsonSerializer.Deserialize<VringPeerReport>(buf.AsSpan(0, n))!;
    }

    /// <summary>Exit code once stopped.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Kills the peer if it still runs.</summary>
    public void Dispose()
    {
        _socket.Dispose();
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }
}
