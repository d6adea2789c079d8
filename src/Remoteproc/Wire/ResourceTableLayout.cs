namespace AmpCan.Remoteproc.Wire;

/// <summary>Resource entry types (Linux include/linux/remoteproc.h, OpenAMP remoteproc.h).</summary>
public enum ResourceType : uint
{
    /// <summary>RSC_CARVEOUT: memory the host allocates (or the remote fixes) for the remote.</summary>
    Carveout = 0,
    /// <summary>RSC_DEVMEM: a device window the remote needs mapped.</summary>
    DevMem = 1,
    /// <summary>RSC_TRACE: a trace buffer the remote writes text into.</summary>
    Trace = 2,
    /// <summary>RSC_VDEV: a virtio device with its vrings and config space.</summary>
    Vdev = 3,
    /// <summary>AmpCan's vendor entry holding feature bits 32 to 63 of one vdev (<see cref="ResourceTableLayout.FeaturesHighType"/>).</summary>
    FeaturesHigh = ResourceTableLayout.FeaturesHighType,
}

/// <summary>
/// Byte offsets of the resource table (all little-endian u32 unless noted). Entry offsets include the 4-byte type.
/// <code>
/// resource_table { u32 ver @0; u32 num @4; u32 reserved[2] @8; u32 offset[num] @16 }
/// fw_rsc_carveout / devmem { type @0; da @4; pa @8; len @12; flags @16; reserved @20; name[32] @24 }   56 bytes
/// fw_rsc_trace   { type @0; da @4; len @8; reserved @12; name[32] @16 }                                48 bytes
/// fw_rsc_vdev    { type @0; id @4; notifyid @8; dfeatures @12; gfeatures @16; config_len @20;
///                  u8 status @24; u8 num_of_vrings @25; u8 reserved[2] @26; vring[n] @28 (20 bytes each); config }
/// fw_rsc_vdev_vring { da @0; align @4; num @8; notifyid @12; pa (OpenAMP: reserved) @16 }                20 bytes
/// ampcan_rsc_features_hi { type 0x1AC @0; len 24 @4; vdev_index @8; reserved 0 @12;
///                          dfeatures_hi @16; gfeatures_hi @20 }                                          24 bytes
/// </code>
/// The last is AmpCan's own entry: virtio feature bits 32 to 63 (VIRTIO_F_VERSION_1 is bit 32, RING_RESET bit 40)
/// of the vdev at offset-array position <c>vdev_index</c>, whose 32-bit dfeatures/gfeatures hold bits 0 to 31. Its
/// type is in the vendor range (RSC_VENDOR_START..RSC_VENDOR_END) and its first two words are OpenAMP's
/// <c>fw_rsc_vendor { type; len }</c> with len the whole entry's size, so a reader that does not know it steps over it:
/// Linux's rproc_handle_resources warns "unsupported vendor resource" and goes on, OpenAMP's handle_rsc_table gets
/// RPROC_ERR_RSC_TAB_NS from handle_vendor_rsc (no platform handle_rsc hook) and goes on. Such a reader sees the
/// 32 low bits only. See docs/resource-table.md.
/// </summary>
public static class ResourceTableLayout
{
    /// <summary>The only table version defined.</summary>
    public const uint TableVersion = 1;
    /// <summary>Bytes before the offset array.</summary>
    public const int HeaderSize = 16;
    /// <summary>Offsets of the header's two reserved words, which must be zero.</summary>
    public const int HeaderReserved0 = 8, HeaderReserved1 = 12;
    /// <summary>FW_RSC_ADDR_ANY: "allocate it for me".</summary>
    public const uint AddressAny = 0xFFFF_FFFF;
    /// <summary>Length of the name fields.</summary>
    public const int NameSize = 32;

    /// <summary>Size of a carveout or devmem entry including its type.</summary>
    public const int CarveoutSize = 56;
    /// <summary>Size of a trace entry including its type.</summary>
    public const int TraceSize = 48;
    /// <summary>Size of a vdev entry without vrings and config, including its type.</summary>
    public const int VdevSize = 28;
    /// <summary>Size of one vring descriptor in a vdev entry.</summary>
    public const int VringSize = 20;

    /// <summary>Offsets inside a vdev entry.</summary>
    public const int VdevId = 4, VdevNotifyId = 8, VdevDeviceFeatures = 12, VdevDriverFeatures = 16, VdevConfigLength = 20,
        VdevStatus = 24, VdevNumVrings = 25, VdevVrings = 28;

    /// <summary>Offsets inside a vring descriptor.</summary>
    public const int VringDa = 0, VringAlign = 4, VringNum = 8, VringNotifyId = 12, VringPa = 16;

    /// <summary>Offset of the two reserved bytes of a vdev entry (must be zero: Linux rproc_handle_vdev).</summary>
    public const int VdevReserved = 26;

    /// <summary>Offsets inside a carveout/devmem entry.</summary>
    public const int CarveoutDa = 4, CarveoutPa = 8, CarveoutLen = 12, CarveoutFlags = 16, CarveoutReserved = 20, CarveoutName = 24;

    /// <summary>Offsets inside a trace entry.</summary>
    public const int TraceDa = 4, TraceLen = 8, TraceReserved = 12, TraceName = 16;

    /// <summary>RSC_LAST: types from here up are not standard; Linux warns "unsupported resource" and skips them.</summary>
    public const uint StandardTypeEnd = 4;

    /// <summary>
    /// RSC_VENDOR_START and RSC_VENDOR_END, both included (Linux and OpenAMP test <c>type &lt;= RSC_VENDOR_END</c>): a
    /// platform hook may handle them; without one both skip them, Linux with "unsupported vendor resource".
    /// </summary>
    public const uint VendorStart = 128, VendorEnd = 512;

    /// <summary>Type of AmpCan's high-feature-word entry: a vendor type (428), chosen away from the range's ends where vendors start counting.</summary>
    public const uint FeaturesHighType = 0x1AC;
    /// <summary>Size of the high-feature-word entry including its type, and the value of its len word.</summary>
    public const int FeaturesHighSize = 24;
    /// <summary>Offsets inside the high-feature-word entry.</summary>
    public const int FeaturesHighLength = 4, FeaturesHighVdevIndex = 8, FeaturesHighReserved = 12, FeaturesHighDevice = 16, FeaturesHighDriver = 20;
}
