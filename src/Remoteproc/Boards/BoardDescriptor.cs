using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AmpCan.Remoteproc.Boards;

/// <summary>Where a board's shared memory comes from.</summary>
public enum SharedMemoryKind
{
    /// <summary>An anonymous memfd (simulation).</summary>
    Memfd,
    /// <summary>A named file (/dev/shm, hugetlbfs, a PCI resource file).</summary>
    File,
    /// <summary>A physical window of /dev/mem.</summary>
    DevMem,
    /// <summary>A UIO map.</summary>
    Uio,
}

/// <summary>How kicks travel.</summary>
public enum DoorbellKind
{
    /// <summary>A pair of eventfds (simulation; passed to a remote process over a UNIX socket).</summary>
    EventFd,
    /// <summary>Single bytes over a UNIX stream socket (OpenAMP's Linux port).</summary>
    UnixSocket,
    /// <summary>UIO interrupts in, a mailbox register out.</summary>
    Uio,
    /// <summary>No kicks: both sides poll.</summary>
    Polling,
}

/// <summary>What runs on the remote core.</summary>
public enum RemoteKind
{
    /// <summary>AmpCan's simulated remote on a thread of the service.</summary>
    Simulated,
    /// <summary>AmpCan's simulated remote as a separate process (<c>ampcan remote-sim</c>).</summary>
    SimulatedProcess,
    /// <summary>Something else (real firmware, OpenAMP's remote): AmpCan only plays the host.</summary>
    External,
}

/// <summary>The shared-memory window of a board.</summary>
public sealed record SharedMemorySpec
{
    /// <summary>Where the memory comes from.</summary>
    public required SharedMemoryKind Kind { get; init; }
    /// <summary>Bytes mapped.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong Size { get; init; }
    /// <summary>The remote's address of the first byte.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong DeviceAddress { get; init; }
    /// <summary>File path (file kind).</summary>
    public string? Path { get; init; }
    /// <summary>Physical address (devmem kind).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong PhysicalAddress { get; init; }
    /// <summary>UIO device and map (uio kind).</summary>
    public int UioDevice { get; init; }
    /// <summary>UIO map index (uio kind).</summary>
    public int UioMap { get; init; }
}

/// <summary>Where the resource table is in the shared memory.</summary>
public sealed record ResourceTableSpec
{
    /// <summary>Offset of the table in the shared memory.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong Offset { get; init; }
    /// <summary>Bytes reserved for it.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong Size { get; init; } = 0x1000;
}

/// <summary>The host's rpmsg buffer pool.</summary>
public sealed record RpmsgSpec
{
    /// <summary>Offset of the pool in the shared memory (receive buffers first, transmit after).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public required ulong BufferPoolOffset { get; init; }
    /// <summary>Receive buffers.</summary>
    public int RxBuffers { get; init; } = 256;
    /// <summary>Transmit buffers.</summary>
    public int TxBuffers { get; init; } = 256;
    /// <summary>Bytes per buffer, header included.</summary>
    public int BufferSize { get; init; } = 512;
}

/// <summary>The board's doorbell.</summary>
public sealed record DoorbellSpec
{
    /// <summary>How kicks travel.</summary>
    public required DoorbellKind Kind { get; init; }
    /// <summary>Socket path (unix-socket kind); the remote listens, the host connects.</summary>
    public string? Path { get; init; }
    /// <summary>UIO device whose interrupt signals the host (uio kind).</summary>
    public int UioDevice { get; init; }
    /// <summary>Offset of the mailbox register in the UIO device's register map (uio kind).</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong MailboxOffset { get; init; }
    /// <summary>UIO map holding the mailbox register.</summary>
    public int MailboxMap { get; init; } = 1;
    /// <summary>Constant part of the mailbox value.</summary>
    [JsonConverter(typeof(HexNumberConverter))] public ulong MailboxValue { get; init; }
    /// <summary>Where the notify id goes in the mailbox value (-1: not at all).</summary>
    public int MailboxNotifyIdShift { get; init; } = -1;
}

/// <summary>The remote core of a board.</summary>
public sealed record RemoteSpec
{
    /// <summary>What runs there.</summary>
    public RemoteKind Kind { get; init; } = RemoteKind.Simulated;
    /// <summary>Name the simulated remote's echo service announces.</summary>
    public string EchoService { get; init; } = "rpmsg-echo";
    /// <summary>How long the host waits for the remote's resource table and for it to connect.</summary>
    public double StartTimeoutSeconds { get; init; } = 30;
}

/// <summary>How the remote's event loop waits.</summary>
public sealed record NotificationSpec
{
    /// <summary>polling, doorbell or adaptive.</summary>
    public AmpCan.SharedMem.Doorbells.NotificationMode Mode { get; init; } = AmpCan.SharedMem.Doorbells.NotificationMode.Adaptive;
    /// <summary>Spin budget of the adaptive mode.</summary>
    public double SpinMicroseconds { get; init; } = 50;
}

/// <summary>A board file: the memory map, the resource table's place, the doorbell and the remote core.</summary>
public sealed record BoardDescriptor
{
    /// <summary>Board name.</summary>
    public required string Name { get; init; }
    /// <summary>One line about the board.</summary>
    public string Description { get; init; } = "";
    /// <summary>The shared-memory window.</summary>
    public required SharedMemorySpec SharedMemory { get; init; }
    /// <summary>Where the resource table is.</summary>
    public ResourceTableSpec ResourceTable { get; init; } = new();
    /// <summary>The rpmsg buffer pool.</summary>
    public required RpmsgSpec Rpmsg { get; init; }
    /// <summary>The doorbell.</summary>
    public required DoorbellSpec Doorbell { get; init; }
    /// <summary>The remote core.</summary>
    public RemoteSpec Remote { get; init; } = new();
    /// <summary>How the loop waits.</summary>
    public NotificationSpec Notification { get; init; } = new();

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false) },
    };

    /// <summary>Reads and validates a board file; errors name the file and the field.</summary>
    public static BoardDescriptor Load(string path)
    {
        string text;
        try { text = System.IO.File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BoardException($"board file '{path}': {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Parses and validates board JSON; <paramref name="source"/> names it in errors.</summary>
    public static BoardDescriptor Parse(string json, string source)
    {
        BoardDescriptor? b;
        try { b = JsonSerializer.Deserialize<BoardDescriptor>(json, Json); }
        catch (JsonException e)
        {
            throw new BoardException($"board file '{source}': {e.Message.Split(" Path:")[0]} (at {e.Path ?? "$"}, line {e.LineNumber + 1})");
        }
        if (b is null) throw new BoardException($"board file '{source}' is empty");
        b.Validate(source);
        return b;
    }

    private void Validate(string source)
    {
        void Fail(string field, string why) => throw new BoardException($"board file '{source}': {field}: {why}");
        if (string.IsNullOrWhiteSpace(Name)) Fail("name", "must not be empty");
        if (SharedMemory.Size == 0) Fail("sharedMemory.size", "must not be 0");
        if (SharedMemory.Kind == SharedMemoryKind.File && string.IsNullOrEmpty(SharedMemory.Path)) Fail("sharedMemory.path", "is required for kind 'file'");
        if (ResourceTable.Size < 16 || ResourceTable.Offset > SharedMemory.Size || ResourceTable.Size > SharedMemory.Size - ResourceTable.Offset)
            Fail("resourceTable", $"[0x{ResourceTable.Offset:x}, +0x{ResourceTable.Size:x}) is not inside the {SharedMemory.Size:#x}-byte shared memory");
        if (Rpmsg.RxBuffers < 1 || Rpmsg.TxBuffers < 1) Fail("rpmsg", "needs at least one receive and one transmit buffer");
        if (Rpmsg.BufferSize <= 16 || Rpmsg.BufferSize > 16 + ushort.MaxValue) Fail("rpmsg.bufferSize", $"{Rpmsg.BufferSize} must be between 17 and {16 + ushort.MaxValue}");
        ulong pool = (ulong)(Rpmsg.RxBuffers + Rpmsg.TxBuffers) * (ulong)Rpmsg.BufferSize;
        if (Rpmsg.BufferPoolOffset > SharedMemory.Size || pool > SharedMemory.Size - Rpmsg.BufferPoolOffset)
            Fail("rpmsg.bufferPoolOffset", $"a pool of {pool} bytes at 0x{Rpmsg.BufferPoolOffset:x} does not fit in the {SharedMemory.Size:#x}-byte shared memory");
        if (Doorbell.Kind == DoorbellKind.UnixSocket && string.IsNullOrEmpty(Doorbell.Path)) Fail("doorbell.path", "is required for kind 'unix-socket'");
        if (Remote.Kind == RemoteKind.SimulatedProcess && SharedMemory.Kind is SharedMemoryKind.DevMem or SharedMemoryKind.Uio)
            Fail("remote.kind", "a simulated remote needs memfd or file shared memory");
        if (Remote.StartTimeoutSeconds <= 0) Fail("remote.startTimeoutSeconds", "must be positive");
    }
}

/// <summary>A board file is missing or wrong; the message names the file and the field.</summary>
public sealed class BoardException(string message) : Exception(message);

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
