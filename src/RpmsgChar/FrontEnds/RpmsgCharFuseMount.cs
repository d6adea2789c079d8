using AmpCan.Fuse;
using Microsoft.Extensions.Logging;

namespace AmpCan.RpmsgChar.FrontEnds;

/// <summary>
/// The FUSE front end running: <see cref="FuseRpmsgFiles"/> mounted at a directory. Dispose unmounts it lazily (files
/// still open keep working until closed, the loop answering them) and waits boundedly for the loop to end.
/// </summary>
public sealed class RpmsgCharFuseMount : IDisposable
{
    private readonly FuseServer _server;

    private RpmsgCharFuseMount(FuseServer server, FuseRpmsgFiles files)
    {
        _server = server;
        Files = files;
    }

    /// <summary>The mounted directory.</summary>
    public string Directory => _server.MountPoint!;

    /// <summary>The file system's handler (open files, for diagnostics).</summary>
    public FuseRpmsgFiles Files { get; }

    /// <summary>
    /// Mounts the files of <paramref name="devices"/> at <paramref name="directory"/> (created if missing) as
    /// <c>fuse.ampcan-rpmsg</c>; throws <see cref="FuseMountException"/> (with the errno) or an IO exception naming the
    /// directory when that is refused.
    /// </summary>
    public static RpmsgCharFuseMount Mount(string directory, RpmsgCharDevices devices, RpmsgCharFileAccess access, ILogger logger)
    {
        ClearDeadMount(directory, logger);
        try { System.IO.Directory.CreateDirectory(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot make the directory '{directory}' for the rpmsg_char files: {e.Message}", e);
        }
        var files = new FuseRpmsgFiles(devices, access.Validated());
        FuseServer server = FuseServer.Mount(directory, Subtype, files, logger);
        if (!server.WaitInitialized(TimeSpan.FromSeconds(10)))
        {
            server.Dispose();
            throw new FuseMountException($"mount fuse.ampcan-rpmsg at '{directory}': the kernel never sent INIT", 110);
        }
        return new RpmsgCharFuseMount(server, files);
    }

    // A service that was killed leaves its file system mounted with nobody serving it (every call ENOTCONN): the next
    // one takes the place over, as a stale control socket is replaced. One still served is another service's: refused.
    private static void ClearDeadMount(string directory, ILogger logger)
    {
        string full = Path.GetFullPath(directory).TrimEnd('/');
        bool ours;
        try { ours = File.ReadLines("/proc/self/mountinfo").Any(l => IsOurMount(l, full)); }
        catch (IOException) { return; } // no /proc: nothing to look at
        if (!ours) return;
        try
        {
            System.IO.Directory.EnumerateFileSystemEntries(full).Any();
        }
        catch (IOException e) when (e.HResult == ENotConn)
        {
            int rc = AmpCan.SharedMem.FuseDevice.Unmount(full);
            if (rc < 0) throw new IOException($"the rpmsg_char directory '{full}' is a dead mount left by a service that was killed, and unmounting it failed: errno {-rc}");
            logger.LogWarning("the rpmsg_char directory {Directory} was left mounted by a service that was killed; unmounted it", full);
            return;
        }
        throw new IOException($"the rpmsg_char directory '{full}' is served by another AmpCan service (set AmpCan:RpmsgChar:Directory to another place)");
    }

    private const int ENotConn = 107;

    // A /proc/self/mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPEROPTIONS", with
    // spaces and backslashes in paths escaped as octal.
    private static bool IsOurMount(string line, string mountPoint)
    {
        int dash = line.IndexOf(" - ", StringComparison.Ordinal);
        if (dash < 0) return false;
        string[] fields = line[..dash].Split(' ');
        return fields.Length > 4 && line[(dash + 3)..].StartsWith(FileSystemType + " ", StringComparison.Ordinal)
            && System.Text.RegularExpressions.Regex.Replace(fields[4], @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString()) == mountPoint;
    }

    private const string FileSystemType = "fuse." + Subtype;
    private const string Subtype = "ampcan-rpmsg";

    /// <summary>Bytes the FUSE loop thread had allocated after its last request (for benchmarks).</summary>
    public long LoopAllocatedBytes => _server.LoopAllocatedBytes;

    /// <inheritdoc/>
    public void Dispose() => _server.Dispose();
}
