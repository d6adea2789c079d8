using System.Runtime.InteropServices;

namespace AmpCan.Host.Control;

/// <summary>The two libc calls the control socket needs that .NET does not wrap: changing a file's owner, and asking whether a directory is writable.</summary>
internal static class UnixFileCalls
{
    private const int WOk = 2, XOk = 1;

    /// <summary>Changes the owner and group of <paramref name="path"/> itself (not a link's target); -1 leaves one as it is. Returns 0 or the errno.</summary>
    public static int ChangeOwner(string path, uint owner, uint group) => lchown(path, owner, group) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>True when this process may create files in <paramref name="directory"/> (access(2) with W_OK|X_OK).</summary>
    public static bool CanCreateIn(string directory) => access(directory, WOk | XOk) == 0;

    [DllImport("libc", SetLastError = true)]
    private static extern int lchown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint owner, uint group);

    [DllImport("libc", SetLastError = true)]
    private static extern int access([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int mode);
}
