using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;
using AmpCan.SharedMem.Doorbells;
using Microsoft.Extensions.Logging;

namespace AmpCan.Simulation;

/// <summary>
/// The simulated remote in a process of its own (<c>ampcan remote-sim</c>), so that it shares nothing managed with the
/// host: for memfd boards the host hands it the memfd and the eventfds over a UNIX socket; for file boards it creates
/// the file and listens for the host itself, as OpenAMP's Linux remote does.
/// </summary>
public sealed class SimulatedRemoteProcess : IDisposable
{
    private const string HandoffMagic = "ampcan-remote-sim/1";
    private readonly Process _process;
    private readonly Socket? _handoff;
    private readonly StringBuilder _output;

    private SimulatedRemoteProcess(Process process, Socket? handoff, StringBuilder output)
    {
        _process = process;
        _handoff = handoff;
        _output = output;
    }

    /// <summary>Process id of the remote.</summary>
    public int ProcessId => _process.Id;

    /// <summary>What the process printed so far: its log (standard output) and its errors, interleaved.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The process's exit code once it has exited, else null.</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>
    /// Starts <c>ampcan remote-sim --board <paramref name="boardPath"/></c>. With <paramref name="memfd"/> the memory and
    /// the remote's doorbell are handed over and this returns once the remote has written its resource table;
    /// without, the remote creates the board's file and listens on its doorbell socket.
    /// </summary>
    public static SimulatedRemoteProcess Start(string ampcanPath, string boardPath, MappedRegion? memfd, EventFdDoorbell? remoteBell, TimeSpan timeout, SimulatedRemoteScript? script = null)
    {
        string? sockPath = memfd is null ? null : Path.Combine(Path.GetTempPath(), $"ampcan-remote-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        using Socket? listener = sockPath is null ? null : new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        if (listener is not null)
        {
            listener.Bind(new UnixDomainSocketEndPoint(sockPath!));
            listener.Listen(1);
        }
        ProcessStartInfo psi = ProgramLauncher.StartInfo(ampcanPath, "remote-sim", "--board", boardPath);
        foreach (string arg in script?.ToArguments() ?? []) psi.ArgumentList.Add(arg);
        if (sockPath is not null)
        {
            psi.ArgumentList.Add("--handoff");
            psi.ArgumentList.Add(sockPath);
        }
        Process p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start '{ampcanPath} remote-sim'");
        var output = new StringBuilder();
        DataReceivedEventHandler keep = (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += keep;
        p.OutputDataReceived += keep;
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        if (listener is null) return new SimulatedRemoteProcess(p, null, output);
        try
        {
            Task<Socket> accept = listener.AcceptAsync();
            if (!accept.Wait(timeout)) throw new TimeoutException($"remote-sim (pid {p.Id}) did not connect within {timeout}: {output}");
            Socket s = accept.Result;
            File.Delete(sockPath!);
            // Handles, not numbers: none of them can be closed and its number reused while it is being sent.
            SafeHandle[] fds = remoteBell is null ? [memfd!.FileHandle!] : [memfd!.FileHandle!, remoteBell.RingFdHandle, remoteBell.WaitFdHandle];
            UnixFdChannel.Send(s, Encoding.ASCII.GetBytes(HandoffMagic), fds);
            s.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            byte[] ready = new byte[1];
            if (s.Receive(ready) != 1) throw new InvalidOperationException($"remote-sim did not boot: {output}");
            return new SimulatedRemoteProcess(p, s, output);
        }
        catch
        {
            if (!p.HasExited) p.Kill();
            File.Delete(sockPath!);
            throw;
        }
    }

    /// <summary>Kills the remote without warning (a crash).</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>Stops the remote (closing the hand-off socket tells it to exit) and reaps it.</summary>
    public void Dispose()
    {
        _handoff?.Dispose();
        if (_handoff is null && !_process.HasExited) _process.Kill();
        if (!_process.WaitForExit(TimeSpan.FromSeconds(10)) && !_process.HasExited) _process.Kill();
        _process.Dispose();
    }

    // A polling doorbell wakes nobody: a loop that may park would wait forever for a kick that never comes (the host
    // side chooses polling for the same reason).
    private static NotificationMode ModeFor(Doorbell bell, BoardDescriptor board) =>
        bell is PollingDoorbell ? NotificationMode.Polling : board.Notification.Mode;

    /// <summary>
    /// The remote side (<c>ampcan remote-sim</c>): maps the board's memory (handed over, or the board's file, created),
    /// boots the simulated firmware and serves until the host goes away or <paramref name="cancellation"/> fires.
    /// </summary>
    public static int Run(string boardPath, string? handoffSocket, ILoggerFactory loggers, CancellationToken cancellation, SimulatedRemoteScript? script = null)
    {
        BoardDescriptor board = BoardDescriptor.Load(boardPath);
        ILogger log = loggers.CreateLogger("AmpCan.RemoteSim");
        TimeSpan timeout = TimeSpan.FromSeconds(board.Remote.StartTimeoutSeconds);
        SimulatedFirmware firmware = SimulatedFirmware.For(board);
        var owned = new List<IDisposable>();
        bool failed = false;
        using var gone = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, gone.Token);
        try
        {
            SimulatedRemote sim;
            Socket? handoff = null;
            if (handoffSocket is not null)
            {
                handoff = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                owned.Add(handoff);
                handoff.Connect(new UnixDomainSocketEndPoint(handoffSocket));
                byte[] buf = new byte[64];
                int n = UnixFdChannel.Receive(handoff, buf, out int[] fds);
                if (Encoding.ASCII.GetString(buf, 0, n) != HandoffMagic || fds.Length is not (1 or 3))
                    throw new InvalidDataException($"remote-sim: unexpected hand-off ({n} bytes, {fds.Length} descriptors)");
                // AmpCan's host seals its memfd; an unsealed one could be shrunk under us (SIGBUS), so it is refused.
                MappedRegion region = MappedRegion.MapMemfd(fds[0], board.SharedMemory.Size, board.SharedMemory.DeviceAddress, "handed-over memfd", requireShrinkSealed: true);
                owned.Add(region);
                Doorbell bell = fds.Length == 3 ? new EventFdDoorbell(fds[1], fds[2]) : new PollingDoorbell();
                owned.Add(bell);
                sim = new SimulatedRemote(region.Io, bell, firmware, ModeFor(bell, board), log, script: script);
                owned.Add(sim);
                sim.Boot(timeout);
                handoff.Send("R"u8);
            }
            else
            {
                if (board.SharedMemory.Kind != SharedMemoryKind.File)
                    throw new BoardException($"board '{board.Name}': without a hand-off socket remote-sim needs file shared memory");
                // One remote per board: a second would zero the live file and take the socket over. Holding the lock,
                // whatever is left at the path is stale: it is replaced by a file of ours (0600 unless the board says
                // otherwise), removed again when we stop, as is the socket.
                owned.Add(BoardInstanceLock.Acquire(board, BoardInstanceLock.Role.Remote)!);
                MappedRegion region = MappedRegion.MapFile(board.SharedMemory.Path!, board.SharedMemory.Size, BoardInstanceLock.CreateFileOptions(board.SharedMemory), board.SharedMemory.DeviceAddress);
                owned.Add(region);
                if (region.ExposureWarning is string exposed) log.LogWarning("remote-sim: {Exposure}", exposed);
                region.Io.Write(firmware.TableOffset, firmware.ResourceTable(region.DeviceAddress));
                Doorbell bell = board.Doorbell.Kind switch
                {
                    DoorbellKind.UnixSocket => UnixSocketDoorbell.Accept(board.Doorbell.Path!, TimeSpan.FromDays(1), linked.Token),
                    DoorbellKind.Polling => new PollingDoorbell(),
                    _ => throw new BoardException($"board '{board.Name}': remote-sim cannot serve a {board.Doorbell.Kind} doorbell on its own"),
                };
                owned.Add(bell);
                log.LogInformation("remote-sim: host connected on {Doorbell}", bell);
                sim = new SimulatedRemote(region.Io, bell, firmware, ModeFor(bell, board), log, script: script);
                owned.Add(sim);
                sim.HostGone += gone.Cancel;
                sim.Boot(timeout, writeTable: false);
            }
            if (!sim.Ready.Wait(timeout + TimeSpan.FromSeconds(1)) || !sim.Ready.Result)
            {
                if (sim.BootFailure is Exception why)
                {
                    log.LogError("remote-sim: the host broke the protocol: {Reason}", why.Message);
                    return 3;
                }
                log.LogError("remote-sim: the host never set DRIVER_OK");
                return 2;
            }
            // The host leaving shows on the rings' doorbell or in the device (a kick that fails): either way, stop.
            sim.Rpmsg.PeerLeft += _ => gone.Cancel();
            sim.Rpmsg.DeviceFailed += e =>
            {
                log.LogError("remote-sim: the host broke the protocol: {Reason}", e.Message);
                failed = true;
                gone.Cancel();
            };
            if (handoff is not null)
            {
                // The host closes the hand-off socket to stop us.
                _ = Task.Run(() =>
                {
                    try { handoff.Receive(new byte[1]); } catch (SocketException) { }
                    gone.Cancel();
                });
            }
            linked.Token.WaitHandle.WaitOne();
            log.LogInformation("remote-sim: stopping");
            return failed ? 3 : 0;
        }
        catch (OperationCanceledException)
        {
            log.LogInformation("remote-sim: stopped before a host connected");
            return 0;
        }
        finally
        {
            for (int i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
        }
    }
}
