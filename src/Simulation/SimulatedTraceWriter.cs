using AmpCan.SharedMem;

namespace AmpCan.Simulation;

/// <summary>
/// The simulated firmware's log in its RSC_TRACE buffer, written as STM32Cube's OpenAMP log does: each character
/// followed by a NUL (so the text always ends), and back to the start before the last byte, overwriting the oldest.
/// </summary>
public sealed class SimulatedTraceWriter(IoRegion buffer)
{
    private readonly object _gate = new();
    private ulong _at;

    /// <summary>Appends <paramref name="line"/> and a newline (ASCII; other characters become '?').</summary>
    public void WriteLine(string line)
    {
        lock (_gate)
        {
            foreach (char c in line) Put(c is >= ' ' and <= '~' ? (byte)c : (byte)'?');
            Put((byte)'\n');
        }
    }

    private void Put(byte b)
    {
        if (buffer.Length < 2) return;
        buffer.WriteU8(_at, b);
        _at = _at + 1 >= buffer.Length - 1 ? 0 : _at + 1;
        buffer.WriteU8Release(_at, 0);
    }
}
