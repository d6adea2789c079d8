using AmpCan.Vring;

namespace AmpCan.Rpmsg;

/// <summary>A channel as a detach record keeps it.</summary>
/// <param name="Name">Service name.</param>
/// <param name="RemoteAddress">The peer's endpoint address.</param>
/// <param name="LocalAddress">Our endpoint's address for it (ANY: none was bound).</param>
public sealed record RpmsgChannelRecord(string Name, uint RemoteAddress, uint LocalAddress);

/// <summary>
/// What the host side of an rpmsg device leaves for the next host when it detaches from a remote that keeps running:
/// where each queue stood (null: not describable, the next host waits for what the remote owes instead) and the
/// channels with their addresses. Everything in it is checked against the rings before it is believed.
/// </summary>
/// <param name="Rx">The receive queue (vq0).</param>
/// <param name="Tx">The transmit queue (vq1).</param>
/// <param name="Channels">The channels the remote had announced.</param>
public sealed record RpmsgHostResume(DriverQueueSnapshot? Rx, DriverQueueSnapshot? Tx, IReadOnlyList<RpmsgChannelRecord> Channels);
