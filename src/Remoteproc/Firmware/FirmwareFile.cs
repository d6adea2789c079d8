namespace AmpCan.Remoteproc.Firmware;

/// <summary>
/// Reads a firmware file whole with a size limit: a path from the command line may name /dev/zero (an unbounded read)
/// or a FIFO (open blocks until a writer comes), and stat gives both a size of 0, so that size is refused before open.
/// </summary>
public static class FirmwareFile
{
    /// <summary>The default limit, 256 MiB: far above a microcontroller's image, and bounded.</summary>
    public const int DefaultMaxBytes = 256 << 20;

    /// <summary>The file's bytes; errors name the path and the problem.</summary>
    /// <exception cref="FirmwareException">The file is missing, not a regular file, empty, over the limit or unreadable.</exception>
    public static byte[] Read(string path, int maxBytes = DefaultMaxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        try
        {
            if (Directory.Exists(path)) throw Refuse(path, "is a directory, not a firmware image");
            var info = new FileInfo(path);
            if (!info.Exists) throw Refuse(path, "does not exist");
            if (info.Length == 0) throw Refuse(path, "is empty or not a regular file (a device, pipe or socket has no size)");
            if (info.Length > maxBytes) throw Refuse(path, $"is {info.Length} bytes, over the limit of {maxBytes} for a firmware image");

            byte[] buffer = new byte[info.Length];
            int length = 0;
            bool grew;
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0))
            {
                int n;
                while (length < buffer.Length && (n = stream.Read(buffer, length, buffer.Length - length)) > 0) length += n;
                // One byte more tells a file that grew (or was swapped) since stat from one that did not; the read stays bounded.
                Span<byte> more = stackalloc byte[1];
                grew = stream.Read(more) > 0;
            }
            if (length != buffer.Length || grew)
                throw Refuse(path, $"changed size while it was read (stat said {info.Length} bytes)");
            return buffer;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Refuse(path, $"cannot be read: {e.Message}");
        }
    }

    private static FirmwareException Refuse(string path, string why) => new($"{path}: {why}");
}
