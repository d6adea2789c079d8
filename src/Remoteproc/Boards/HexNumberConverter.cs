using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>Reads a u64 written as a JSON number or a string ("0x1000", "4096").</summary>
public sealed class HexNumberConverter : JsonConverter<ulong>
{
    /// <inheritdoc/>
    public override ulong Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out ulong n)) return n;
        if (reader.TokenType == JsonTokenType.String)
        {
            string s = reader.GetString()!.Trim().Replace("_", "", StringComparison.Ordinal);
            bool hex = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
            if (ulong.TryParse(hex ? s[2..] : s, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out n)) return n;
            throw new JsonException($"'{reader.GetString()}' is not a number (write 4096 or \"0x1000\")");
        }
        throw new JsonException("expected a non-negative number or a string such as \"0x1000\"");
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, ulong value, JsonSerializerOptions options) => writer.WriteStringValue($"0x{value:x}");
}
