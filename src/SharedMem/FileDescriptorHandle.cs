using System.Runtime.InteropServices;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>
/// A file descriptor that is closed exactly once and never while a system call is using its number: every use takes
/// a reference (<see cref="Enter"/>/<see cref="Exit"/>), and Dispose only marks the handle closed until the last
/// reference is returned.
/// </summary>
/// <remarks>
/// A descriptor number closed under a racing call can be handed to the next open(2) of any thread, and the call then
/// reads or writes that unrelated file. The reference count is one interlocked operation each way, cheap enough for
/// the kick path.
/// </remarks>
internal sealed class FileDescriptorHandle : SafeHandle
{
    // SafeHandle refuses new references only once the descriptor is really closed, which waits for calls in flight;
    // this flag turns new calls away from the moment Dispose is called.
    private volatile bool _disposed;

    /// <summary>Wraps <paramref name="fd"/>; with <paramref name="ownsDescriptor"/> it is closed when the last user leaves.</summary>
    public FileDescriptorHandle(int fd, bool ownsDescriptor = true) : base(-1, ownsDescriptor) => SetHandle(fd);

    /// <inheritdoc/>
    public override bool IsInvalid => handle == -1;

    /// <summary>True once Dispose was called (the descriptor itself may stay open until the last call leaves).</summary>
    public bool IsDisposed => _disposed;

    /// <summary>The descriptor number until disposed, then -1 (informational: use <see cref="Enter"/> to use it).</summary>
    public int NumberOrInvalid => _disposed || IsClosed ? -1 : (int)handle;

    /// <summary>
    /// Takes a reference and returns the descriptor, which stays open until <see cref="Exit"/>; throws
    /// <see cref="ObjectDisposedException"/> naming <paramref name="owner"/> once the handle is disposed.
    /// </summary>
    public int Enter(string owner)
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            throw new ObjectDisposedException(owner);
        }
        if (_disposed)
        {
            DangerousRelease();
            throw new ObjectDisposedException(owner);
        }
        return (int)handle;
    }

    /// <summary>Returns the reference <see cref="Enter"/> took; closes the descriptor if it was disposed meanwhile.</summary>
    public void Exit() => DangerousRelease();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        _disposed = true; // before the reference is dropped: a call that enters after this sees it
        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => close((int)handle) == 0;
}
