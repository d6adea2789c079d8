using System.Runtime.InteropServices;

namespace AmpCan.SharedMem;

/// <summary>A mapping, doorbell or file-descriptor operation failed; the message names the operation, the object and the OS error.</summary>
public sealed class SharedMemoryException : IOException
{
    /// <summary>Creates the exception with a complete message.</summary>
    public SharedMemoryException(string message, int errno = 0) : base(message) => Errno = errno;

    /// <summary>The OS error number, or 0 when the failure was not a system call.</summary>
    public int Errno { get; }

    internal static SharedMemoryException FromErrno(string what, int errno) =>
        new($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
}
