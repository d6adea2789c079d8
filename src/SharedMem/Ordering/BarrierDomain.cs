namespace AmpCan.SharedMem.Ordering;

/// <summary>
/// Who the peer on the other side of a window is, as far as memory ordering goes: it decides how strong the barriers
/// around the indices handed over in that window must be (Linux's <c>weak_barriers</c> choice for a virtqueue).
/// </summary>
public enum BarrierDomain
{
    /// <summary>
    /// A thread, a process or a guest running on the same cluster of cores (memfds, files, vhost-user guest RAM): the
    /// CPU's own acquire loads, release stores and full fence (Linux's <c>virt_*</c>/<c>smp_*</c> barriers) suffice.
    /// </summary>
    InnerShareable,

    /// <summary>
    /// Another core outside this cluster's inner-shareable domain (a Cortex-M or Cortex-R core through a /dev/mem or UIO
    /// window): barriers that reach the whole system, as Linux remoteproc's vrings use (<c>weak_barriers = false</c>:
    /// <c>dma_rmb()</c>, <c>dma_wmb()</c>, <c>mb()</c>), see <see cref="SystemBarriers"/>.
    /// </summary>
    System,
}
