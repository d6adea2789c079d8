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
        try { System.IO.Directory.CreateDirectory(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot make the directory '{directory}' for the rpmsg_char files: {e.Message}", e);
        }
        var files = new FuseRpmsgFiles(devices, access.Validated());
        FuseServer server = FuseServer.Mount(directory, "ampcan-rpmsg", files, logger);
        if (!server.WaitInitialized(TimeSpan.FromSeconds(10)))
        {
            server.Dispose();
            throw new FuseMountException($"mount fuse.ampcan-rpmsg at '{directory}': the kernel never sent INIT", 110);
        }
        return new RpmsgCharFuseMount(server, files);
    }

    /// <summary>Bytes the FUSE loop thread had allocated after its last request (for benchmarks).</summary>
    public long LoopAllocatedBytes => _server.LoopAllocatedBytes;

    /// <inheritdoc/>
    public void Dispose() => _server.Dispose();
}
