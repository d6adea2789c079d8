namespace AmpCan.Remoteproc;

/// <summary>How <see cref="ResourceTableAllocator"/> gives the table's vdevs and vrings their notify ids.</summary>
public enum NotifyIdPolicy
{
    /// <summary>
    /// Ids the table fixes are kept (a board's doorbells may be wired per id) and must all differ; an id of
    /// 0xFFFFFFFF (OpenAMP's RSC_NOTIFY_ID_ANY) is left to the host, which gives it the lowest id nobody holds, as
    /// OpenAMP's <c>handle_vdev_rsc</c> does for the vdev and each of its vrings.
    /// </summary>
    KeepFixed,

    /// <summary>
    /// As Linux's <c>rproc_alloc_vring</c>: every vring gets the lowest free id from 0 in table order (its idr),
    /// whatever the table said, and the vdev's own notifyid is left as it is (Linux never reads it). For firmware
    /// written for a Linux host, whose vring ids are placeholders (often 0 and 1 in every vdev).
    /// </summary>
    Linux,
}
