using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using AmpCan.SharedMem.Doorbells;
using AmpCan.Vring;

namespace AmpCan.Host.Peers;

/// <summary>What the vring peer process is told when it connects: where the ring is and how to serve it.</summary>
/// <param name="RegionSize">Bytes of the memfd to map.</param>
/// <param name="DeviceAddress">The address the driver uses for the region's first byte.</param>
/// <param name="RingOffset">Where the legacy ring starts in the region.</param>
/// <param name="QueueSize">Entries in the ring (a power of two).</param>
/// <param name="Align">Alignment of the used ring (a power of two of at least 4).</param>
/// <param name="EventIndex">True when VIRTIO_F_EVENT_IDX was negotiated.</param>
/// <param name="Mode">How the peer's loop waits.</param>
/// <param name="Role"><see cref="EchoRole"/> or <see cref="SinkRole"/>.</param>
/// <param name="Cpu">CPU to pin the peer's loop to, or -1.</param>
public sealed record VringPeerParameters(
    ulong RegionSize, ulong DeviceAddress, ulong RingOffset, int QueueSize, ulong Align,
    bool EventIndex, NotificationMode Mode, string Role, int Cpu = -1)
{
    /// <summary>The peer copies each chain's readable bytes into its writable ones (<see cref="VringEchoDevice"/>).</summary>
    public const string EchoRole = "echo";

    /// <summary>The peer consumes each chain and reports what it received (<see cref="VringSinkDevice"/>).</summary>
    public const string SinkRole = "sink";

    // The message comes from another process: an unknown, missing or repeated field is an error, not a default.
    private static readonly JsonTypeInfo<VringPeerParameters> Strict = (JsonTypeInfo<VringPeerParameters>)new JsonSerializerOptions
    {
        TypeInfoResolver = HostJsonContext.Default,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    }.GetTypeInfo(typeof(VringPeerParameters));

    /// <summary>Reads and checks a parameters message; throws <see cref="InvalidDataException"/> naming the field at fault.</summary>
    public static VringPeerParameters Parse(ReadOnlySpan<byte> json)
    {
        VringPeerParameters p;
        try
        {
            p = JsonSerializer.Deserialize(json, Strict)
                ?? throw new InvalidDataException("the parameters message is the JSON null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the parameters message is not valid: {e.Message}");
        }
        p.Validate();
        return p;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first field that cannot describe a ring in the region.</summary>
    public void Validate()
    {
        if (RegionSize == 0) Fail(nameof(RegionSize), RegionSize, "the region is empty");
        if (DeviceAddress > ulong.MaxValue - RegionSize) Fail(nameof(DeviceAddress), $"0x{DeviceAddress:x}", $"the region of 0x{RegionSize:x} bytes would end beyond the 64-bit address space");
        if (QueueSize < 1 || QueueSize > VringLayout.MaxQueueSize || (QueueSize & (QueueSize - 1)) != 0)
            Fail(nameof(QueueSize), QueueSize, $"it must be a power of two from 1 to {VringLayout.MaxQueueSize}");
        if (Align < 4 || (Align & (Align - 1)) != 0) Fail(nameof(Align), Align, "it must be a power of two of at least 4");
        ulong ringSize = VringLayout.LegacySize(QueueSize, Align);
        if (RingOffset > RegionSize || ringSize > RegionSize - RingOffset)
            Fail(nameof(RingOffset), $"0x{RingOffset:x}", $"a ring of {QueueSize} entries (0x{ringSize:x} bytes) there does not fit the 0x{RegionSize:x}-byte region");
        if ((DeviceAddress + RingOffset) % Align != 0)
            Fail(nameof(RingOffset), $"0x{RingOffset:x}", $"the ring's device address 0x{DeviceAddress + RingOffset:x} is not aligned to {Align}");
        if (!Enum.IsDefined(Mode)) Fail(nameof(Mode), (int)Mode, $"it must be one of {string.Join(", ", Enum.GetValues<NotificationMode>().Select(m => $"{(int)m} ({m})"))}");
        if (Role is not (EchoRole or SinkRole)) Fail(nameof(Role), $"'{Role}'", $"it must be '{EchoRole}' or '{SinkRole}'");
        if (Cpu < -1 || Cpu >= Environment.ProcessorCount) Fail(nameof(Cpu), Cpu, $"it must be -1 (not pinned) or a CPU from 0 to {Environment.ProcessorCount - 1}");
    }

    private static void Fail(string field, object value, string why) =>
        throw new InvalidDataException($"parameter {field} = {value}: {why}");
}
