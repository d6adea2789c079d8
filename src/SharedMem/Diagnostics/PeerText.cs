using System.Text;

namespace AmpCan.SharedMem.Diagnostics;

/// <summary>
/// Makes text a peer wrote (channel names, payloads) safe to put in a log: control characters, escape sequences and
/// invalid UTF-8 become visible escapes, and the length is capped, so a peer cannot forge log lines or drive a terminal.
/// </summary>
public static class PeerText
{
    /// <summary>Default number of characters kept before the text is cut with an ellipsis.</summary>
    public const int DefaultMaxChars = 64;

    /// <summary>Escapes UTF-8 bytes from a peer.</summary>
    public static string Escape(ReadOnlySpan<byte> utf8, int maxChars = DefaultMaxChars)
    {
        var sb = new StringBuilder(Math.Min(utf8.Length, maxChars) + 8);
        int i = 0;
        while (i < utf8.Length)
        {
            if (sb.Length >= maxChars) return sb.Append('…').ToString();
            if (Rune.DecodeFromUtf8(utf8[i..], out Rune r, out int used) != System.Buffers.OperationStatus.Done)
            {
                sb.Append($"\\x{utf8[i]:x2}");
                i++;
                continue;
            }
            Append(sb, r);
            i += used;
        }
        return sb.ToString();
    }

    /// <summary>Escapes a string that came from a peer.</summary>
    public static string Escape(string text, int maxChars = DefaultMaxChars)
    {
        var sb = new StringBuilder(Math.Min(text.Length, maxChars) + 8);
        foreach (Rune r in text.EnumerateRunes())
        {
            if (sb.Length >= maxChars) return sb.Append('…').ToString();
            Append(sb, r);
        }
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, Rune r)
    {
        int v = r.Value;
        switch (v)
        {
            case '\\': sb.Append("\\\\"); return;
            case '\n': sb.Append("\\n"); return;
            case '\r': sb.Append("\\r"); return;
            case '\t': sb.Append("\\t"); return;
        }
        // C0 and C1 controls, DEL, and the bidirectional overrides that reorder what a terminal shows.
        if (v < 0x20 || (v >= 0x7f && v < 0xa0)) sb.Append($"\\x{v:x2}");
        else if (v is (>= 0x202a and <= 0x202e) or (>= 0x2066 and <= 0x2069) or 0x200e or 0x200f) sb.Append($"\\u{v:x4}");
        else sb.Append(r.ToString());
    }
}
