using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace AmpCan.Host.Control;

/// <summary>
/// The control socket's protocol: one connection carries one request, a JSON object on one line
/// (<c>{"command":"recover","core":"m4"}</c>), and gets one response, a JSON object on one line, after which the
/// service closes it.
/// </summary>
public static class ControlProtocol
{
    /// <summary>The longest request line accepted, newline included; a longer one is answered with an error.</summary>
    public const int MaxRequestBytes = 4096;

    /// <summary>The longest response line a client reads (status of many cores with many channels).</summary>
    public const int MaxResponseBytes = 1 << 20;

    /// <summary>The commands, in the order the help lists them.</summary>
    public static readonly IReadOnlyList<string> Commands = ["status", "start", "stop", "recover", "crash", "attach", "detach"];

    /// <summary>How responses are written and read: camelCase names, absent rather than null where a field does not apply.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        TypeInfoResolver = HostJsonContext.Default,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = false,
    };

    /// <summary>A response's metadata under <see cref="Json"/>.</summary>
    public static JsonTypeInfo<ControlResponse> ResponseInfo => (JsonTypeInfo<ControlResponse>)Json.GetTypeInfo(typeof(ControlResponse));
}

/// <summary>What a core's status says: its state as Linux names it, crashes, the latest crash and recovery, and the channels it serves.</summary>
public sealed record CoreStatus(
    string Name,
    string State,
    int Crashes,
    string? LastCrash,
    double? LastRecoveryMs,
    IReadOnlyList<string> Channels);

/// <summary>One response: <c>ok</c> with the status of the cores the command concerned, or not <c>ok</c> with the error.</summary>
public sealed record ControlResponse(
    bool Ok,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<CoreStatus>? Cores)
{
    /// <summary>A success carrying <paramref name="cores"/>.</summary>
    public static ControlResponse Success(IReadOnlyList<CoreStatus> cores) => new(true, null, cores);

    /// <summary>A failure saying <paramref name="error"/>.</summary>
    public static ControlResponse Failure(string error) => new(false, error, null);

    /// <summary>The response as one line of UTF-8 JSON, newline included.</summary>
    public byte[] ToLine()
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(this, ControlProtocol.ResponseInfo);
        byte[] line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }
}
