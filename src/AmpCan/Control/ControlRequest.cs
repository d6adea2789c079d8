using System.Text;
using System.Text.Json;
using AmpCan.SharedMem.Diagnostics;

namespace AmpCan.Host.Control;

/// <summary>A request that cannot be served as written; the message names what is wrong with it.</summary>
public sealed class ControlRequestException(string message) : Exception(message);

/// <summary>One request: a command of <see cref="ControlProtocol.Commands"/> and, optionally, the core it is for.</summary>
public sealed record ControlRequest(string Command, string? Core = null)
{
    /// <summary>The request as one line of UTF-8 JSON, newline included.</summary>
    public byte[] ToLine()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("command", Command);
            if (Core is not null) w.WriteString("core", Core);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>
    /// Reads a request line (without its newline), as strictly as a peer's input deserves: one JSON object with a
    /// string <c>command</c> among <see cref="ControlProtocol.Commands"/>, an optional string <c>core</c>, nothing else.
    /// </summary>
    /// <exception cref="ControlRequestException">It is not such a request; the message says why, quoting the offending text escaped and cut short.</exception>
    public static ControlRequest Parse(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
        if (line.Trim(" \t"u8).IsEmpty) throw new ControlRequestException("empty request: send one JSON object on one line, such as {\"command\":\"status\"}");
        if (FirstInvalidUtf8(line) is int bad)
            throw new ControlRequestException($"malformed request: not UTF-8 (byte 0x{line[bad]:x2} at {bad}): {PeerText.Escape(line)}");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException e)
        {
            throw new ControlRequestException($"malformed request: not JSON ({Said(e)}): {PeerText.Escape(line)}");
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ControlRequestException($"malformed request: a JSON object is expected, not {Kind(root.ValueKind)}");
            string? command = null, core = null;
            try { Fields(root, ref command, ref core); }
            catch (InvalidOperationException)
            {
                // A string escape that is no UTF-16 ("\ud800" alone): the reader refuses to make a string of it.
                throw new ControlRequestException("malformed request: a string that is no text (a lone surrogate escape)");
            }
            if (command is null) throw new ControlRequestException("malformed request: no \"command\" (one of " + string.Join(", ", ControlProtocol.Commands) + ")");
            if (!ControlProtocol.Commands.Contains(command))
                throw new ControlRequestException($"unknown command '{PeerText.Escape(command)}' (the commands are {string.Join(", ", ControlProtocol.Commands)})");
            return new ControlRequest(command, core);
        }
    }

    private static void Fields(JsonElement root, ref string? command, ref string? core)
    {
        foreach (JsonProperty p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "command":
                    command = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()
                        : throw new ControlRequestException($"malformed request: \"command\" must be a string, not {Kind(p.Value.ValueKind)}");
                    break;
                case "core":
                    core = p.Value.ValueKind switch
                    {
                        JsonValueKind.String => p.Value.GetString(),
                        JsonValueKind.Null => null,
                        _ => throw new ControlRequestException($"malformed request: \"core\" must be a string, not {Kind(p.Value.ValueKind)}"),
                    };
                    break;
                default:
                    throw new ControlRequestException($"malformed request: unknown field \"{PeerText.Escape(p.Name)}\" (the fields are command and core)");
            }
        }
    }

    private static int? FirstInvalidUtf8(ReadOnlySpan<byte> text)
    {
        for (int i = 0; i < text.Length;)
        {
            if (System.Text.Rune.DecodeFromUtf8(text[i..], out _, out int used) != System.Buffers.OperationStatus.Done) return i;
            i += used;
        }
        return null;
    }

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    // System.Text.Json appends "LineNumber: 0 | BytePositionInLine: 7." (and sometimes "Path: $") to what it says; one line has one line number.
    private static string Said(JsonException e)
    {
        string m = e.Message;
        foreach (string tail in (string[])[" Path:", " LineNumber:"])
        {
            int at = m.IndexOf(tail, StringComparison.Ordinal);
            if (at > 0) m = m[..at];
        }
        m = m.TrimEnd('.', ' ');
        return e.BytePositionInLine is long b ? $"{m}, at byte {b}" : m;
    }
}
