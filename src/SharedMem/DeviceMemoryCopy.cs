using System.Runtime.CompilerServices;

namespace AmpCan.SharedMem;

/// <summary>
/// Copies to and from device memory with naturally aligned scalar accesses only: at each step the widest of 8, 4, 2 or 1
/// bytes that the device address is aligned to and that is left, each a volatile access the JIT neither widens, merges
/// nor turns into vector moves. The other side of the copy is ordinary memory, read or written unaligned.
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
                switch (Width((ulong)d, n - i))
                {
                    case 8: Volatile.Write(ref *(ulong*)d, Unsafe.ReadUnaligned<ulong>(src + i)); i += 8; break;
                    case 4: Volatile.Write(ref *(uint*)d, Unsafe.ReadUnaligned<uint>(src + i)); i += 4; break;
                    case 2: Volatile.Write(ref *(ushort*)d, Unsafe.ReadUnaligned<ushort>(src + i)); i += 2; break;
                    default: Volatile.Write(ref *d, src[i]); i += 1; break;
                }
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
                switch (Width((ulong)d, n - i))
                {
                    case 8: Unsafe.WriteUnaligned(dst + i, Volatile.Read(ref *(ulong*)d)); i += 8; break;
                    case 4: Unsafe.WriteUnaligned(dst + i, Volatile.Read(ref *(uint*)d)); i += 4; break;
                    case 2: Unsafe.WriteUnaligned(dst + i, Volatile.Read(ref *(ushort*)d)); i += 2; break;
                    default: dst[i] = Volatile.Read(ref *d); i += 1; break;
                }
            }
        }
    }

    // The widest naturally aligned access at this address that does not run past the end. Never 8 in a 32-bit process:
    // there a volatile 64-bit access is made atomic with LDREXD/STREXD, exclusives that device memory need not support.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Width(ulong address, ulong left) => Width(address, left, sizeof(nint));

    /// <summary>The widest access at <paramref name="address"/> for a process whose pointers are <paramref name="pointerSize"/> bytes.</summary>
    internal static int Width(ulong address, ulong left, int pointerSize) =>
        pointerSize == 8 && (address & 7) == 0 && left >= 8 ? 8 : (address & 3) == 0 && left >= 4 ? 4 : (address & 1) == 0 && left >= 2 ? 2 : 1;
}
