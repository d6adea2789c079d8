namespace AmpCan.Remoteproc.Firmware;

/// <summary>Names of virtio device ids, for people reading a resource table (Linux include/uapi/linux/virtio_ids.h).</summary>
public static class VirtioDeviceNames
{
    /// <summary>The device's name ("rpmsg" for 7, "can" for 36, ...), or "unknown" for an id Linux does not define.</summary>
    public static string Name(uint id) => id switch
    {
        1 => "net", 2 => "block", 3 => "console", 4 => "rng", 5 => "balloon", 6 => "iomem", 7 => "rpmsg", 8 => "scsi",
        9 => "9p", 10 => "mac80211-wlan", 11 => "rproc-serial", 12 => "caif", 13 => "memory-balloon", 16 => "gpu",
        17 => "clock", 18 => "input", 19 => "vsock", 20 => "crypto", 21 => "signal-dist", 22 => "pstore", 23 => "iommu",
        24 => "mem", 25 => "sound", 26 => "fs", 27 => "pmem", 28 => "rpmb", 29 => "mac80211-hwsim", 30 => "video-encoder",
        31 => "video-decoder", 32 => "scmi", 33 => "nitro-sec-mod", 34 => "i2c-adapter", 35 => "watchdog", 36 => "can",
        37 => "dmabuf", 38 => "param-serv", 39 => "audio-policy", 40 => "bt", 41 => "gpio",
        _ => "unknown",
    };
}
