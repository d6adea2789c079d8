using System.Runtime.CompilerServices;

namespace AmpCan.SharedMem;

/// <summary>
/// Copies to, from and fills device memory with naturally aligned scalar accesses only, as the kernel's
/// <c>memcpy_toio</c>/<c>memcpy_fromio</c>/<c>memset_io</c> and libmetal's <c>metal_io_block_read/write/set</c> do: at
/// each step the widest of 8, 4, 2 or 1 bytes that the device address is aligned to and that is left, each a volatile
/// access the JIT neither widens, merges nor turns into vector moves. The other side of a copy is ordinary memory,
/// read or written unaligned.
/// </summary>
internal static unsafe class DeviceMemoryCopy
{
    /// <summary>Copies <paramref name="source"/> from ordinary memory to device memory at <paramref name="device"/>.</summary>
    public static void ToDevice(byte* device, ReadOnlySpan<byte> source)
    {
        fixed (byte* src = source)
        {
            ulong n = (ulong)source.Length, i = 0;
            while (i < n)
            {
                byte* d = device + i;
                int width = Width((ulong)d, n - i);
                if (DeviceAccessLog.Enabled) DeviceAccessLog.Note((ulong)d, width, write: true);
                switch (width)
                {
                    case 8: Volatile.Write(ref *(ulong*)d, Unsafe.ReadUnaligned<ulong>(src + i)); break;
                    case 4: Volatile.Write(ref *(uint*)d, Unsafe.ReadUnaligned<uint>(src + i)); break;
                    case 2: Volatile.Write(ref *(ushort*)d, Unsafe.ReadUnaligned<ushort>(src + i)); break;
                    default: Volatile.Write(ref *d, src[i]); break;
                }
                i += (ulong)width;
            }
        }
    }

    /// <summary>Fills <paramref name="destination"/> in ordinary memory from device memory at <paramref name="device"/>.</summary>
    public static void FromDevice(byte* device, Span<byte> destination)
    {
        fixed (byte* dst = destination)
        {
            ulong n = (ulong)destination.Length, i = 0;
            while (i < n)
            {
                byte* d = device + i;
                int width = Width((ulong)d, n - i);
                if (DeviceAccessLog.Enabled) DeviceAccessLog.Note((ulong)d, width, write: false);
                switch (width)
                {
                    case 8: Unsafe.WriteUnaligned(dst + i, Volatile.Read(ref *(ulong*)d)); break;
                    case 4: Unsafe.WriteUnaligned(dst + i, Volatile.Read(ref *(uint*)d)); break;
                    case 2: Unsafe.WriteUnaligned(dst + i, Volatile.Read(ref *(ushort*)d)); break;
                    default: dst[i] = Volatile.Read(ref *d); break;
                }
                i += (ulong)width;
            }
        }
    }

    /// <summary>Sets <paramref name="length"/> bytes of device memory at <paramref name="device"/> to <paramref name="value"/> (<c>memset_io</c>).</summary>
    /// <remarks>Never <c>Span.Clear</c>/<c>Fill</c>: on arm64 those may zero with <c>DC ZVA</c> or unaligned vector stores, which fault on device memory.</remarks>
    public static void Fill(byte* device, ulong length, byte value)
    {
        ulong pattern = value * 0x0101_0101_0101_0101UL;
        for (ulong i = 0; i < length;)
        {
            byte* d = device + i;
            int width = Width((ulong)d, length - i);
            if (DeviceAccessLog.Enabled) DeviceAccessLog.Note((ulong)d, width, write: true);
            switch (width)
            {
                case 8: Volatile.Write(ref *(ulong*)d, pattern); break;
                case 4: Volatile.Write(ref *(uint*)d, (uint)pattern); break;
                case 2: Volatile.Write(ref *(ushort*)d, (ushort)pattern); break;
                default: Volatile.Write(ref *d, value); break;
            }
            i += (ulong)width;
        }
    }

    // The widest naturally aligned access at this address that does not run past the end. Never 8 in a 32-bit process:
    // there a volatile 64-bit access is made atomic with LDREXD/STREXD, exclusives that device memory need not support.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Width(ulong address, ulong left) => Width(address, left, sizeof(nint));

    /// <summary>The widest access at <paramref name="address"/> for a process whose pointers are <paramref name="pointerSize"/> bytes.</summary>
    internal static int Width(ulong address, ulong left, int pointerSize) =>
        pointerSize == 8 && (address & 7) == 0 && left >= 8 ? 8 : (address & 3) == 0 && left >= 4 ? 4 : (address & 1) == 0 && left >= 2 ? 2 : 1;

    /// <summary>
    /// True when a single-copy atomic access of <paramref name="size"/> bytes to device memory cannot be made in a
    /// process whose pointers are <paramref name="pointerSize"/> bytes: a 64-bit one in a 32-bit process (the runtime
    /// would use LDREXD/STREXD, which device memory need not support, and two 32-bit halves are not one value).
    /// </summary>
    internal static bool AtomicUnavailable(ulong size, int pointerSize) => size > (ulong)pointerSize;
}
