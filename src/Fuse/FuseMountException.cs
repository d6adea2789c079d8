using System.Runtime.InteropServices;

namespace AmpCan.Fuse;

/// <summary>Opening the FUSE device or mounting it failed; <see cref="Errno"/> says why (EPERM: not permitted here).</summary>
public sealed class FuseMountException : Exception
{
    /// <summary>The failure for <paramref name="what"/> with <paramref name="errno"/>.</summary>
    public FuseMountException(string what, int errno)
        : base($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})") => Errno = errno;

    /// <summary>The errno of the failed call.</summary>
    public int Errno { get; }
}
