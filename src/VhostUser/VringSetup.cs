using AmpCan.Vring;
using AmpCan.VhostUser.Wire;

namespace AmpCan.VhostUser;

/// <summary>One queue as the front end has configured it so far in a session (size, addresses, base, eventfds, enable).</summary>
internal sealed class VringSetup : IDisposable
{
    public VringSetup(int index, string owner)
    {
        Index = index;
        Call = new VringEventFd($"{owner} call fd of queue {index}");
        Error = new VringEventFd($"{owner} error fd of queue {index}");
    }

    /// <summary>The queue index.</summary>
    public int Index { get; }

    /// <summary>SET_VRING_NUM; 0 until set.</summary>
    public int Size { get; set; }

    /// <summary>SET_VRING_ADDR, checked against the memory table when it came; null until set.</summary>
    public VringAddress? Address { get; set; }

    /// <summary>SET_VRING_BASE, or where the queue stood when it was last stopped: the next available index.</summary>
    public ushort Base { get; set; }

    /// <summary>SET_VRING_KICK; null until set and again once the ring is stopped.</summary>
    public KickEventFd? Kick { get; set; }

    /// <summary>SET_VRING_CALL (replaceable while the queue runs).</summary>
    public VringEventFd Call { get; }

    /// <summary>SET_VRING_ERR.</summary>
    public VringEventFd Error { get; }

    /// <summary>SET_VRING_ENABLE.</summary>
    public bool Enabled { get; set; }

    /// <summary>The ring at <paramref name="a"/>'s front-end addresses, all three areas inside the memory table, or a refusal naming the queue.</summary>
    public SplitRing Map(VringAddress a, GuestMemoryTable memory)
    {
        try
        {
            return SplitRing.Separate(memory.FrontEndVirtual, Size, a.Descriptors, a.Available, a.Used);
        }
        catch (ArgumentException e)
        {
            throw new VhostUserProtocolException($"queue {Index} ({Size} entries): {e.Message} of the memory table's front-end addresses");
        }
    }

    /// <summary>Drops what a new start must send again (size, addresses, base, kick, enable); the call and error eventfds stay.</summary>
    public void Clear()
    {
        Size = 0;
        Address = null;
        Base = 0;
        Enabled = false;
        Kick?.Dispose();
        Kick = null;
    }

    /// <summary>Closes every eventfd.</summary>
    public void Dispose()
    {
        Clear();
        Call.Dispose();
        Error.Dispose();
    }
}
