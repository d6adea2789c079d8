using System.CommandLine;
using AmpCan.Host.Bench;
using AmpCan.Host.Commands;
using AmpCan.Host.Peers;
using AmpCan.Remoteproc.Boards;

namespace AmpCan.Host;

/// <summary>The <c>ampcan</c> command line.</summary>
public static class Program
{
    /// <summary>Entry point: a failure is one line on standard error and a non-zero exit, never a stack trace.</summary>
    public static int Main(string[] args)
    {
        try
        {
            return BuildCommandLine().Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is BoardException or SharedMem.SharedMemoryException or TimeoutException or ConfigurationValueException
                                   or Remoteproc.ResourceTableException or Rpmsg.RpmsgException or BenchmarkFailedException
                                   or SharedMem.InstanceLockedException or Vring.VirtioException or Remoteproc.Firmware.FirmwareException)
        {
            Console.Error.WriteLine($"ampcan: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 0; // stopped (Ctrl+C, SIGTERM) before there was anything to do
        }
        catch (Exception e)
        {
            // A defect of ours; still one line, with what it was, so a supervisor's log says what happened.
            Console.Error.WriteLine($"ampcan: internal error ({e.GetType().Name}): {e.Message}");
            return 70; // EX_SOFTWARE
        }
    }

    /// <summary>Builds the command tree (separate for tests).</summary>
    public static RootCommand BuildCommandLine()
    {
        var root = new RootCommand("AmpCan: AMP IPC backend for the Linux master. Without a command it serves a board (default: the simulated board).");
        ServiceCommand.AddTo(root);
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(RemoteSimCommand.Create());
        root.Subcommands.Add(EchoTestCommand.Create());
        root.Subcommands.Add(VhostUserCommand.Create());
        root.Subcommands.Add(FirmwareCommand.Create());
        root.Subcommands.Add(TraceCommand.Create());
        foreach (System.CommandLine.Command control in ControlCommands.Create()) root.Subcommands.Add(control);

        var socket = new Option<string>("--socket") { Description = "UNIX socket to receive the memfd and doorbells from", Required = true };
        var peer = new Command("vring-peer", "Serve one virtqueue as an echo or sink device in this process (used by tests and benchmarks)") { socket };
        peer.Hidden = true;
        peer.SetAction(r => VringPeer.Run(r.GetValue(socket)!));
        root.Subcommands.Add(peer);
        return root;
    }
}
