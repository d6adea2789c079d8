using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>What stat(2) says of a file under /dev: its type and permission bits, owner, group and device number.</summary>
/// <param name="Mode">st_mode: the file type (S_IFMT bits) and the permission bits.</param>
/// <param name="Owner">st_uid.</param>
/// <param name="Group">st_gid.</param>
/// <param name="Major">The device's major number (of st_rdev).</param>
/// <param name="Minor">The device's minor number (of st_rdev).</param>
public readonly record struct DeviceNodeStatus(uint Mode, uint Owner, uint Group, uint Major, uint Minor)
{
    /// <summary>True for a character device (S_ISCHR).</summary>
    public bool IsCharacterDevice => (Mode & 0xF000) == 0x2000;

    /// <summary>The permission bits (07777).</summary>
    public uint Permissions => Mode & 0xFFF;
}

/// <summary>
/// The calls a character-device front end makes on its node under /dev (what udev rules would do): stat without
/// following links, chown, chmod and unlink, each returning 0 or -errno so that the caller names the path in its error.
/// </summary>
public static unsafe class DeviceNode
{
    /// <summary>lstat(2) of <paramref name="path"/>: 0 and its status, or -errno (-ENOENT: not there yet).</summary>
    public static int Stat(string path, out DeviceNodeStatus status)
    {
        status = default;
        int rc = Posix.LStat(path, out stat st);
        if (rc != 0) return rc;
        ulong dev = st.st_rdev;
        // glibc's gnu_dev_major/gnu_dev_minor: the 12+20-bit split of the kernel's new_encode_dev.
        uint major = (uint)(((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFFUL));
        uint minor = (uint)((dev & 0xFF) | ((dev >> 12) & ~0xFFUL));
        status = new DeviceNodeStatus((uint)st.st_mode, (uint)st.st_uid, (uint)st.st_gid, major, minor);
        return 0;
    }

    /// <summary>lchown(2): <paramref name="owner"/> and <paramref name="group"/> (uint.MaxValue leaves one as it is); 0 or -errno.</summary>
    public static int Chown(string path, uint owner, uint group)
    {
        byte[] p = PathBytes(path);
        fixed (byte* b = p) return lchown(b, owner, group) == 0 ? 0 : -errno;
    }

    /// <summary>chmod(2) to <paramref name="permissions"/> (07777 bits); 0 or -errno.</summary>
    public static int Chmod(string path, uint permissions)
    {
        byte[] p = PathBytes(path);
        fixed (byte* b = p) return chmod(b, (mode_t)(ushort)(permissions & 0xFFF)) == 0 ? 0 : -errno;
    }

    /// <summary>unlink(2) of <paramref name="path"/>; 0 or -errno.</summary>
    public static int Unlink(string path) => Posix.Unlink(path);

    private static byte[] PathBytes(string path)
    {
        if (path.Contains('\0')) throw new ArgumentException($"path '{path.Replace("\0", "\\0")}' contains a NUL byte", nameof(path));
        return Encoding.UTF8.GetBytes(path + "\0");
    }
}
