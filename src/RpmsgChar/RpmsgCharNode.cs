namespace AmpCan.RpmsgChar;

/// <summary>A file of the rpmsg_char ABI: a control device (<c>rpmsg_ctrlN</c>) or an endpoint device (<c>rpmsgN</c>).</summary>
public abstract class RpmsgCharNode
{
    private protected RpmsgCharNode(RpmsgCharDevices devices, int id, string name, ulong nodeId)
    {
        Devices = devices;
        Id = id;
        Name = name;
        NodeId = nodeId;
    }

    /// <summary>The set this file belongs to.</summary>
    public RpmsgCharDevices Devices { get; }

    /// <summary>N of the file's name: ids are reused lowest first once a removed file's last opener closed it, as Linux's ida.</summary>
    public int Id { get; }

    /// <summary>The file's name (<c>rpmsg_ctrl0</c>, <c>rpmsg3</c>).</summary>
    public string Name { get; }

    /// <summary>A number never reused for another file in this set (a front end's inode number).</summary>
    public ulong NodeId { get; }

    /// <summary>True once the file was removed (its device destroyed or gone): its path no longer resolves.</summary>
    public abstract bool IsRemoved { get; }

    /// <summary>True while some opener holds it (a removed file's id is freed when this becomes false).</summary>
    public abstract bool IsOpen { get; }
}
