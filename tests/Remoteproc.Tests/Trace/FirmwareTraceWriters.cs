using System.Text;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Remoteproc.Trace;

/// <summary>
/// Writes a trace buffer the way STM32Cube's OpenAMP <c>log_buff</c> does (behaviour read in openamp_log.c, written
/// anew here): each byte followed by a NUL, back to offset 0 when the next byte would reach the last one.
/// </summary>
internal sealed class NulTerminatedTraceWriter(IoRegion buffer)
{
    private int _offset;

    public void Write(string text) => Write(Encoding.UTF8.GetBytes(text));

    public void Write(ReadOnlySpan<byte> bytes)
    {
        int length = (int)buffer.Length;
        foreach (byte b in bytes)
        {
            if (_offset + 1 >= length) _offset = 0;
            buffer.WriteU8((ulong)_offset, b);
            buffer.WriteU8((ulong)_offset + 1, 0);
            _offset++;
        }
    }
}

/// <summary>
/// Writes a trace buffer the way Zephyr's RAM console does (drivers/console/ram_console.c, behaviour written anew here):
/// each byte at the next position modulo the length, no NUL after it.
/// </summary>
internal sealed class RingTraceWriter(IoRegion buffer)
{
    private int _position;

    public void Write(string text) => Write(Encoding.UTF8.GetBytes(text));

    public void Write(ReadOnlySpan<byte> bytes)
    {
        int length = (int)buffer.Length;
        foreach (byte b in bytes)
        {
            buffer.WriteU8((ulong)_position, b);
            _position = (_position + 1) % length;
        }
    }
}
