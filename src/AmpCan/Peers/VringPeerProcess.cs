using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Peers;

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
            UnixFdChannel.Send(s, JsonSerializer.SerializeToUtf8Bytes(parameters, HostJsonContext.Default.VringPeerParameters), [region.FileDescriptor, peerSide.RingFd, peerSide.WaitFd]);
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
        try
        {
            return JsonSerializer.Deserialize(buf.AsSpan(0, n), HostJsonContext.Default.VringPeerReport)
                ?? throw new InvalidDataException("vring peer reported the JSON null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"vring peer sent a report that is not one: {e.Message}", e);
        }
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
