using System.Runtime.InteropServices;

namespace AmpCan.Fuse;

/// <summary>
/// Setting up a front end failed: opening /dev/fuse or /dev/cuse, mounting, or the CUSE device's node under /dev
/// (its path named in the message); <see cref="Errno"/> says why (EPERM/EACCES: not permitted here).
/// </summary>
public sealed class FuseMountException : Exception
{
    /// <summary>The failure for <paramref name="what"/> with <paramref name="errno"/>.</summary>
    public FuseMountException(string what, int errno)
        : base($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})") => Errno = errno;

    private FuseMountException(string message, int errno, bool _) : base(message) => Errno = errno;

    /// <summary>The errno of the failed call (or the nearest one, for a failure that was not a call's).</summary>
    public int Errno { get; }

    /// <summary>A failure told in <paramref name="message"/>, classed as <paramref name="errno"/>.</summary>
    internal static FuseMountException Because(string message, int errno) => new(message, errno, true);
}
