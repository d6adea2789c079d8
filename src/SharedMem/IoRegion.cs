using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using AmpCan.SharedMem.Ordering;

namespace AmpCan.SharedMem;

/// <summary>
/// A bounds-checked window of shared memory: little-endian accessors, acquire loads and release stores for the
/// indices two cores hand each other, and span views for payloads. Offsets are relative to the window. Where the peer
/// is a remote core (<see cref="Barriers"/> System), an acquire load is followed by Linux's <c>dma_rmb()</c> and a
/// release store preceded by <c>dma_wmb()</c>, as the kernel's vrings do with <c>weak_barriers = false</c>.
/// </summary>
/// <remarks>
/// Everything here may be written concurrently by the other side. Read a value once into a local before you
/// validate and use it; a span is a live view, not a snapshot.
/// </remarks>
public sealed unsafe class IoRegion
{
    private readonly MappedRegion _owner; // keeps the mapping alive while any view is reachable
    private readonly byte* _base;
    private readonly ulong _length;
    private readonly bool _system; // Barriers == System, read on every index access

    internal IoRegion(MappedRegion owner, byte* @base, ulong length, ulong deviceAddress, string name, MemoryAttributes attributes, BarrierDomain barriers)
    {
        Barriers = barriers;
        _system = barriers == BarrierDomain.System;
        _owner = owner;
        _base = @base;
        _length = length;
        DeviceAddress = deviceAddress;
        Name = name;
        Attributes = attributes;
    }

    /// <summary>How this memory may be accessed (its mapping's, unless <see cref="AsDeviceMemory"/> said more).</summary>
    public MemoryAttributes Attributes { get; }

    /// <summary>
    /// The same window, to be treated as device memory (copies aligned, word by word): for memory the mapping cannot
    /// tell is a device's, as a PCI BAR opened through its sysfs resource file.
    /// </summary>
    public IoRegion AsDeviceMemory() => new(_owner, _base, _length, DeviceAddress, Name, MemoryAttributes.Device, Barriers);

    /// <summary>
    /// How strong the barriers around this window's indices are: <see cref="BarrierDomain.System"/> for a remote core
    /// (the /dev/mem and UIO mappings' default), <see cref="BarrierDomain.InnerShareable"/> for threads, processes and
    /// guests on these cores (memfds' and files' default).
    /// </summary>
    public BarrierDomain Barriers { get; }

    /// <summary>The same window with the barriers a board or transport chose for its peer (see <see cref="Barriers"/>).</summary>
    public IoRegion WithBarriers(BarrierDomain barriers) => barriers == Barriers ? this : new(_owner, _base, _length, DeviceAddress, Name, Attributes, barriers);

    /// <summary>Bytes in this window.</summary>
    public ulong Length => _length;

    /// <summary>The remote's address for offset 0 of this window.</summary>
    public ulong DeviceAddress { get; }

    /// <summary>Name of the mapping this window belongs to, for errors and logs.</summary>
    public string Name { get; }

    /// <summary>The mapping this window is part of.</summary>
    public MappedRegion Mapping => _owner;

    /// <summary>A sub-window of <paramref name="length"/> bytes at <paramref name="offset"/>.</summary>
    public IoRegion Slice(ulong offset, ulong length)
    {
        Check(offset, length);
        return new IoRegion(_owner, _base + offset, length, DeviceAddress + offset, Name, Attributes, Barriers);
    }

    /// <summary>True when [offset, offset + length) lies inside this window.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Contains(ulong offset, ulong length) => offset <= _length && length <= _length - offset;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Check(ulong offset, ulong length)
    {
        if (offset > _length || length > _length - offset) Throw(offset, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* At(ulong offset, ulong size)
    {
        if (offset > _length || size > _length - offset) Throw(offset, size);
        return _base + offset;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* Aligned(ulong offset, ulong size)
    {
        byte* p = At(offset, size);
        if (((nuint)p & (nuint)(size - 1)) != 0) ThrowMisaligned(offset, size);
        return p;
    }

    private void Throw(ulong offset, ulong length) =>
        throw new SharedMemoryBoundsException($"access of {length} bytes at offset 0x{offset:x} is outside '{Name}' (0x{_length:x} bytes)");

    private void ThrowMisaligned(ulong offset, ulong size) =>
        throw new SharedMemoryBoundsException($"atomic access of {size} bytes at offset 0x{offset:x} of '{Name}' is not naturally aligned");

    /// <summary>Reads a byte.</summary>
    public byte ReadU8(ulong offset) => *At(offset, 1);

    /// <summary>Reads a little-endian u16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadU16(ulong offset) => Le(Unsafe.ReadUnaligned<ushort>(At(offset, 2)));

    /// <summary>Reads a little-endian u32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadU32(ulong offset) => Le(Unsafe.ReadUnaligned<uint>(At(offset, 4)));

    /// <summary>Reads a little-endian u64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadU64(ulong offset) => Le(Unsafe.ReadUnaligned<ulong>(At(offset, 8)));

    /// <summary>Writes a byte.</summary>
    public void WriteU8(ulong offset, byte value) => *At(offset, 1) = value;

    /// <summary>Writes a little-endian u16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU16(ulong offset, ushort value) => Unsafe.WriteUnaligned(At(offset, 2), Le(value));

    /// <summary>Writes a little-endian u32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU32(ulong offset, uint value) => Unsafe.WriteUnaligned(At(offset, 4), Le(value));

    /// <summary>Writes a little-endian u64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU64(ulong offset, ulong value) => Unsafe.WriteUnaligned(At(offset, 8), Le(value));

    /// <summary>Acquire load of a byte: later reads are not performed before it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte ReadU8Acquire(ulong offset)
    {
        byte v = Volatile.Read(ref *At(offset, 1));
        if (_system) SystemBarriers.Read();
        return v;
    }

    /// <summary>Acquire load of an aligned little-endian u16 (an index the peer publishes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadU16Acquire(ulong offset)
    {
        ushort v = Volatile.Read(ref *(ushort*)Aligned(offset, 2));
        if (_system) SystemBarriers.Read();
        return Le(v);
    }

    /// <summary>Acquire load of an aligned little-endian u32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadU32Acquire(ulong offset)
    {
        uint v = Volatile.Read(ref *(uint*)Aligned(offset, 4));
        if (_system) SystemBarriers.Read();
        return Le(v);
    }

    /// <summary>Acquire load of an aligned little-endian u64 (one access: a 64-bit field the peer publishes whole).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadU64Acquire(ulong offset)
    {
        ulong v = Volatile.Read(ref *(ulong*)Aligned(offset, 8));
        if (_system) SystemBarriers.Read();
        return Le(v);
    }

    /// <summary>Release store of a byte: earlier writes are visible before it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU8Release(ulong offset, byte value)
    {
        byte* p = At(offset, 1);
        if (_system) SystemBarriers.Write();
        Volatile.Write(ref *p, value);
    }

    /// <summary>Release store of an aligned little-endian u16 (publishing an index to the peer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU16Release(ulong offset, ushort value)
    {
        ushort* p = (ushort*)Aligned(offset, 2);
        if (_system) SystemBarriers.Write();
        Volatile.Write(ref *p, Le(value));
    }

    /// <summary>Release store of an aligned little-endian u32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU32Release(ulong offset, uint value)
    {
        uint* p = (uint*)Aligned(offset, 4);
        if (_system) SystemBarriers.Write();
        Volatile.Write(ref *p, Le(value));
    }

    /// <summary>Release store of an aligned little-endian u64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU64Release(ulong offset, ulong value)
    {
        ulong* p = (ulong*)Aligned(offset, 8);
        if (_system) SystemBarriers.Write();
        Volatile.Write(ref *p, Le(value));
    }

    /// <summary>
    /// Full barrier for this window's peer: stores before it are visible before loads after it. Needed between
    /// publishing an index and reading the peer's event index or flags (the store-load ordering acquire/release do not
    /// give). Linux's <c>mb()</c> where <see cref="Barriers"/> is System, <c>smp_mb()</c> otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Fence()
    {
        if (_system) SystemBarriers.Full();
        else Interlocked.MemoryBarrier();
    }

    /// <summary>Full barrier among this cluster's cores (<see cref="BarrierDomain.InnerShareable"/>); a window's peer needs <see cref="Fence"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FullFence() => Interlocked.MemoryBarrier();

    /// <summary>A live, writable view of <paramref name="length"/> bytes at <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> GetSpan(ulong offset, int length)
    {
        if (length < 0) Throw(offset, unchecked((ulong)length));
        return new Span<byte>(At(offset, (ulong)length), length);
    }

    /// <summary>Copies bytes out of the window (for device memory with aligned word accesses only).</summary>
    public void Read(ulong offset, Span<byte> destination)
    {
        if (Attributes == MemoryAttributes.Device) DeviceMemoryCopy.FromDevice(At(offset, (ulong)destination.Length), destination);
        else GetSpan(offset, destination.Length).CopyTo(destination);
    }

    /// <summary>Copies bytes into the window (for device memory with aligned word accesses only).</summary>
    public void Write(ulong offset, ReadOnlySpan<byte> source)
    {
        if (Attributes == MemoryAttributes.Device) DeviceMemoryCopy.ToDevice(At(offset, (ulong)source.Length), source);
        else source.CopyTo(GetSpan(offset, source.Length));
    }

    /// <summary>Zeroes <paramref name="length"/> bytes at <paramref name="offset"/>.</summary>
    public void Clear(ulong offset, ulong length)
    {
        Check(offset, length);
        byte* p = _base + offset;
        while (length > 0)
        {
            int n = (int)Math.Min(length, int.MaxValue);
            new Span<byte>(p, n).Clear();
            p += n;
            length -= (ulong)n;
        }
    }

    /// <summary>Copies an unmanaged wire struct out in one read, so it can be validated without the peer changing it underneath.</summary>
    /// <remarks>From device memory word by word, aligned (a used element is 8 bytes at a 4-byte boundary).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Read<T>(ulong offset) where T : unmanaged
    {
        byte* p = At(offset, (ulong)sizeof(T));
        if (Attributes != MemoryAttributes.Device) return Unsafe.ReadUnaligned<T>(p);
        T value;
        DeviceMemoryCopy.FromDevice(p, new Span<byte>(&value, sizeof(T)));
        return value;
    }

    /// <summary>Writes an unmanaged wire struct (to device memory word by word, aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write<T>(ulong offset, in T value) where T : unmanaged
    {
        byte* p = At(offset, (ulong)sizeof(T));
        if (Attributes != MemoryAttributes.Device) Unsafe.WriteUnaligned(p, value);
        else
        {
            T copy = value;
            DeviceMemoryCopy.ToDevice(p, new ReadOnlySpan<byte>(&copy, sizeof(T)));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Le(ushort v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Le(uint v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Le(ulong v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} [0x{DeviceAddress:x}+0x{_length:x}]";
}

/// <summary>An access fell outside its window or was misaligned; the shared memory was not touched.</summary>
public sealed class SharedMemoryBoundsException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public SharedMemoryBoundsException(string message) : base(message) { }
}
