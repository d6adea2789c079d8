using System.Text;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// Reads a board file's text with a size limit: a path given on the command line may name anything, and
/// <c>/dev/zero</c> read to its end is an unbounded allocation while a FIFO blocks <c>open</c> until a writer comes.
/// </summary>
internal static class BoardFileReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The file's text (a leading byte-order mark removed); errors name the file and, for size, the limit.</summary>
    public static string ReadText(string path, int limit)
    {
        string Refuse(string why) => throw new BoardException($"board file '{path}' {why}");
        string limitText = $"the limit of {SizeNotation.Bytes((ulong)limit)} for a board file";
        try
        {
            // .NET cannot tell a device, FIFO or socket from a regular file before opening it, but stat gives all of
            // them (and an empty file) a size of 0, so that size is refused before open() can block on a FIFO.
            var info = new FileInfo(path);
            if (Directory.Exists(path)) Refuse("is a directory, not a board file");
            if (!info.Exists) Refuse("does not exist");
            if (info.Length == 0) Refuse("is empty or not a regular file (a device, pipe or socket has no size)");
            if (info.Length > limit) Refuse($"is {SizeNotation.Bytes((ulong)info.Length)}, over {limitText}");

            // Read one byte past the limit so a file that grew (or was swapped) since the check is still bounded.
            byte[] bytes = new byte[limit + 1];
            int length = 0;
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0))
            {
                int n;
                while (length < bytes.Length && (n = stream.Read(bytes, length, bytes.Length - length)) > 0) length += n;
            }
            if (length > limit) Refuse($"is larger than {limitText}");
            if (length == 0) Refuse("is empty");
            ReadOnlySpan<byte> text = bytes.AsSpan(0, length);
            int start = text.StartsWith(Encoding.UTF8.Preamble) ? Encoding.UTF8.Preamble.Length : 0;
            try { return StrictUtf8.GetString(text[start..]); }
            catch (DecoderFallbackException e)
            {
                return Refuse($"is not UTF-8 text (invalid byte at offset {start + e.Index})");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Refuse($"cannot be read: {e.Message}");
        }
    }
}
