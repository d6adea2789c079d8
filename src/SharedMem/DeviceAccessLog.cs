namespace AmpCan.SharedMem;

/// <summary>One access <see cref="DeviceMemoryCopy"/> made to device memory.</summary>
/// <param name="Address">The virtual address accessed.</param>
/// <param name="Width">Bytes accessed at once (1, 2, 4 or 8).</param>
/// <param name="IsWrite">True for a store.</param>
internal readonly record struct DeviceAccess(ulong Address, int Width, bool IsWrite);

/// <summary>
/// Records the device-memory accesses made on the calling thread while a recording is open, so that tests can see the
/// policy itself (every access aligned, no wider than allowed, device paths taken) on machines where nothing faults.
/// </summary>
/// <remarks>
/// Off until the first recording opens; from then on each device access costs one more thread-static read, against
/// an uncached access that costs far more.
/// </remarks>
internal static class DeviceAccessLog
{
    private static bool s_enabled;
    [ThreadStatic] private static List<DeviceAccess>? t_accesses;

    /// <summary>True once any recording was opened in this process.</summary>
    internal static bool Enabled => s_enabled; // a plain read: a recording thread set it itself

    /// <summary>Starts recording this thread's device accesses into <paramref name="into"/> until the result is disposed.</summary>
    internal static Recording Record(List<DeviceAccess> into)
    {
        t_accesses = into;
        s_enabled = true;
        return new Recording();
    }

    /// <summary>Notes one access, if this thread is recording.</summary>
    internal static void Note(ulong address, int width, bool write) => t_accesses?.Add(new DeviceAccess(address, width, write));

    /// <summary>An open recording; disposing it stops recording on its thread.</summary>
    internal readonly struct Recording : IDisposable
    {
        /// <summary>Stops recording.</summary>
        public void Dispose() => t_accesses = null;
    }
}
