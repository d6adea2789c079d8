namespace AmpCan.Remoteproc;

/// <summary>
/// The carveout names Linux's remoteproc looks up for a vdev's memory (rproc_alloc_vring, rproc_add_virtio_dev), which
/// boards give their reserved-memory nodes: one rule for the allocator and for a kernel-started core's table.
/// </summary>
public static class CarveoutNames
{
    /// <summary><c>vdev{N}vring{M}</c>: vring <paramref name="vring"/> of the table's <paramref name="vdev"/>-th vdev (vdevs counted in table order, as rvdev->index).</summary>
    public static string Vring(int vdev, int vring) => $"vdev{vdev}vring{vring}";
}
