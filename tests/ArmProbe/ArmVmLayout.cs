namespace AmpCan.Tests.ArmProbe;

/// <summary>
/// Where things live in the two ivshmem BARs of the ArmVm tests, and the bytes both sides expect: compiled into the
/// arm64 guest program and into the host test (tests/AmpCan.Tests/ArmVm), so the two cannot disagree.
/// </summary>
public static class ArmVmLayout
{
    /// <summary>Size of each ivshmem device (a power of two: a PCI BAR).</summary>
    public const ulong BarSize = 1 << 20;

    /// <summary>The device address both sides give the BARs (what descriptors and the resource table hold).</summary>
    public const ulong DeviceBase = 0x3000_0000;

    // ---- BAR of device 0 (guest 0000:00:10.0): the mapping checks and the vring round trips ----

    /// <summary>The host test writes <see cref="HostPattern"/> here before the guest boots.</summary>
    public const ulong HostPatternOffset = 0x100;
    /// <summary>The guest writes <see cref="DevMemPattern"/> here through /dev/mem.</summary>
    public const ulong DevMemPatternOffset = 0x200;
    /// <summary>The guest writes <see cref="SecondMapPattern"/> here through its second mapping (UIO or resource2).</summary>
    public const ulong SecondMapPatternOffset = 0x300;

    /// <summary>A word the guest's barrier check writes, fences and reads back through /dev/mem.</summary>
    public const ulong BarrierWordOffset = 0x400;
    /// <summary>Pattern of the host test.</summary>
    public const ulong HostPattern = 0x1122334455667788;
    /// <summary>Pattern of the guest through /dev/mem.</summary>
    public const ulong DevMemPattern = 0xA1B2C3D4E5F60718;
    /// <summary>Pattern of the guest through its second mapping.</summary>
    public const ulong SecondMapPattern = 0x0DDC0FFEE0DDF00D;

    /// <summary>The guest writes <see cref="DriverReady"/> here once its ring is initialised (the device may start).</summary>
    public const ulong VringReadyOffset = 0x1000;
    /// <summary>The guest writes the number of round trips it completed here at the end (then <see cref="DriverDone"/> at +4).</summary>
    public const ulong VringDoneCountOffset = 0x1008;
    /// <summary>"ARMV" in little-endian: the driver's ring is ready.</summary>
    public const uint DriverReady = 0x564D5241;
    /// <summary>Written after the count: the driver is finished.</summary>
    public const uint DriverDone = 0x454E4F44;
    /// <summary>Offset of the split ring (legacy layout, <see cref="VringAlign"/>).</summary>
    public const ulong VringOffset = 0x2000;
    /// <summary>Ring size.</summary>
    public const int VringSize = 64;
    /// <summary>Ring alignment.</summary>
    public const ulong VringAlign = 0x1000;
    /// <summary>Requests are written from here (each round trip at an odd offset in its own 4 KiB slot).</summary>
    public const ulong RequestArea = 0x10000;
    /// <summary>Responses land from here.</summary>
    public const ulong ResponseArea = 0x50000;
    /// <summary>Slots per area.</summary>
    public const int Slots = 64;
    /// <summary>Longest payload.</summary>
    public const int MaxPayload = 1500;
    /// <summary>Scratch space the deliberately unsafe accesses hit (nothing else uses it).</summary>
    public const ulong FaultArea = 0xC0000;

    /// <summary>Request offset of round trip <paramref name="round"/>: always odd, so a copy must handle a ragged head.</summary>
    public static ulong RequestOffset(int round) => RequestArea + (ulong)(round % Slots) * 0x1000 + 1 + 2 * (ulong)(round % 7);

    /// <summary>Response offset of round trip <paramref name="round"/>: odd too, with another phase.</summary>
    public static ulong ResponseOffset(int round) => ResponseArea + (ulong)(round % Slots) * 0x1000 + 3 + 2 * (ulong)(round % 5);

    /// <summary>Payload length of round trip <paramref name="round"/>: 1 to 16 first, then lengths of every residue up to <see cref="MaxPayload"/>.</summary>
    public static int PayloadLength(int round) => round < 16 ? round + 1 : 1 + round * 97 % MaxPayload;

    /// <summary>Byte <paramref name="index"/> of the request of round trip <paramref name="round"/>.</summary>
    public static byte RequestByte(int round, int index) => (byte)(round * 31 + index * 7 + 1);

    /// <summary>Fills a request.</summary>
    public static void FillRequest(int round, Span<byte> payload)
    {
        for (int i = 0; i < payload.Length; i++) payload[i] = RequestByte(round, i);
    }

    /// <summary>The device's answer: the request reversed and complemented (a copy that lost order or an offset shows).</summary>
    public static void FillResponse(ReadOnlySpan<byte> request, Span<byte> response)
    {
        for (int i = 0; i < request.Length; i++) response[i] = (byte)~request[request.Length - 1 - i];
    }

    // ---- BAR of device 1 (guest 0000:00:11.0): rpmsg, laid out like OpenAMP's Linux port ----

    /// <summary>The resource table (written by the host test, the remote's side, before the guest boots).</summary>
    public const ulong ResourceTableOffset = 0;
    /// <summary>Vring 0 (remote to host).</summary>
    public const ulong RpmsgVring0 = 0x4000;
    /// <summary>Vring 1 (host to remote).</summary>
    public const ulong RpmsgVring1 = 0x8000;
    /// <summary>Entries per rpmsg vring.</summary>
    public const int RpmsgRingSize = 256;
    /// <summary>The host's buffer pool.</summary>
    public const ulong RpmsgPool = 0x10000;
    /// <summary>Size of every rpmsg buffer (both sides' default, as Linux's): the MTU is this less the 16-byte header.</summary>
    public const int RpmsgBufferSize = 512;
    /// <summary>The echo service the remote announces.</summary>
    public const string EchoService = "arm-echo";

    /// <summary>Byte <paramref name="index"/> of the rpmsg message of length <paramref name="length"/>.</summary>
    public static byte MessageByte(int length, int index) => (byte)(length * 13 + index * 5 + 3);
}
