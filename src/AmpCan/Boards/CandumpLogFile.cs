using System.Text;
using AmpCan.Remoteproc.Boards;

namespace AmpCan.Host.Boards;

/// <summary>
/// Opens a board's candump log file for writing: replaced if it exists, mode 0644 when created (a log is for reading),
/// refused when the path is a symbolic link (the service may run as root; a link planted in /tmp must not aim it at
/// another file).
/// </summary>
public static class CandumpLogFile
{
    /// <summary>A writer on a fresh <paramref name="path"/>.</summary>
    /// <exception cref="BoardException">The path is a link, or the file cannot be created (the message names it and says why).</exception>
    public static TextWriter Open(string path)
    {
        try
        {
            if (new FileInfo(path).LinkTarget is string target)
                throw new BoardException($"candump log {path}: is a symbolic link (to {target}); give the file itself");
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.Read };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            return new StreamWriter(new FileStream(path, options), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new BoardException($"candump log {path}: cannot create it ({e.Message})");
        }
    }
}
