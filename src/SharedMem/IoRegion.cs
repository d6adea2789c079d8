using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using AmpCan.SharedMem.Ordering;

namespace AmpCan.SharedMem;

/// <summary>
/// A bounds-checked window of shared memory: little-endian accessors, acquire loads and release stores for the
/// indices two cores hand each other, and span views for payloads in ordinary memory (device memory is only copied, see
/// <see cref="MemoryAttributes.Device"/>). Offsets are relative to the window. Where the peer is a remote core
/// (<see cref="Barriers"/> System), an acquire load is followed by Linux's <c>dma_rmb()</c> and a release store preceded
/// by <c>dma_wmb()</c>, as the kernel's vrings do with <c>weak_barriers = false</c>.
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
        // Folds away in a 64-bit process (size and the pointer size are constants there): see CheckAtomic.
        CheckAtomic(offset, size, sizeof(nint));
        return p;
    }

    /// <summary>Refuses a single-copy atomic access the process cannot make on device memory (the acquire and release accessors' check).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CheckAtomic(ulong offset, ulong size, int pointerSize)
    {
        if (DeviceMemoryCopy.AtomicUnavailable(size, pointerSize) && IsDevice) ThrowNoAtomic(offset, size, pointerSize);
    }

    private void ThrowNoAtomic(ulong offset, ulong size, int pointerSize) =>
        throw new NotSupportedException(
            $"an atomic {size * 8}-bit access at offset 0x{offset:x} of device memory '{Name}' is not possible in a {pointerSize * 8}-bit process " +
            "(it would need LDREXD/STREXD, which device memory need not support, and two halves are not one value): publish the field as two 32-bit words or run a 64-bit process");

    private void Throw(ulong offset, ulong length) =>
        throw new SharedMemoryBoundsException($"access of {length} bytes at offset 0x{offset:x} is outside '{Name}' (0x{_length:x} bytes)");

    private void ThrowMisaligned(ulong offset, ulong size) =>
        throw new SharedMemoryBoundsException($"atomic access of {size} bytes at offset 0x{offset:x} of '{Name}' is not naturally aligned");

    // Device memory: an access at an unaligned offset is split into aligned pieces (never one unaligned access, which
    // faults on Arm device memory), and a u64 is two u32s in a 32-bit process (see DeviceMemoryCopy.Width). Out of line,
    // so that the Normal path stays one inlined load or store behind one predictable branch.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static T ReadDevice<T>(byte* p) where T : unmanaged
    {
        T value;
        DeviceMemoryCopy.FromDevice(p, new Span<byte>(&value, sizeof(T)));
        return value;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WriteDevice<T>(byte* p, T value) where T : unmanaged =>
        DeviceMemoryCopy.ToDevice(p, new ReadOnlySpan<byte>(&value, sizeof(T)));

    private bool IsDevice
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Attributes == MemoryAttributes.Device;
    }

    /// <summary>Reads a byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte ReadU8(ulong offset)
    {
        byte* p = At(offset, 1);
        return IsDevice ? ReadDevice<byte>(p) : *p;
    }

    /// <summary>Reads a little-endian u16 (at any offset; on device memory in aligned pieces).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadU16(ulong offset)
    {
        byte* p = At(offset, 2);
        return Le(IsDevice ? ReadDevice<ushort>(p) : Unsafe.ReadUnaligned<ushort>(p));
    }

    /// <summary>Reads a little-endian u32 (at any offset; on device memory in aligned pieces).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadU32(ulong offset)
    {
        byte* p = At(offset, 4);
        return Le(IsDevice ? ReadDevice<uint>(p) : Unsafe.ReadUnaligned<uint>(p));
    }

    /// <summary>Reads a little-endian u64 (at any offset; on device memory in aligned pieces, u32s in a 32-bit process).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadU64(ulong offset)
    {
        byte* p = At(offset, 8);
        return Le(IsDevice ? ReadDevice<ulong>(p) : Unsafe.ReadUnaligned<ulong>(p));
    }

    /// <summary>Writes a byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU8(ulong offset, byte value)
    {
        byte* p = At(offset, 1);
        // Volatile on device memory, so that the JIT cannot coalesce neighbouring byte stores into one unaligned store.
        if (IsDevice) WriteDevice(p, value);
        else *p = value;
    }

    /// <summary>Writes a little-endian u16 (at any offset; on device memory in aligned pieces).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU16(ulong offset, ushort value)
    {
        byte* p = At(offset, 2);
        if (IsDevice) WriteDevice(p, Le(value));
        else Unsafe.WriteUnaligned(p, Le(value));
    }

    /// <summary>Writes a little-endian u32 (at any offset; on device memory in aligned pieces).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU32(ulong offset, uint value)
    {
        byte* p = At(offset, 4);
        if (IsDevice) WriteDevice(p, Le(value));
        else Unsafe.WriteUnaligned(p, Le(value));
    }

    /// <summary>Writes a little-endian u64 (at any offset; on device memory in aligned pieces, u32s in a 32-bit process).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteU64(ulong offset, ulong value)
    {
        byte* p = At(offset, 8);
        if (IsDevice) WriteDevice(p, Le(value));
        else Unsafe.WriteUnaligned(p, Le(value));
    }

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

    /// <summary>A live, writable view of <paramref name="length"/> bytes at <paramref name="offset"/> (ordinary memory only).</summary>
    /// <exception cref="InvalidOperationException">This window is device memory: nobody gets a span into it (use Read/Write).</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> GetSpan(ulong offset, int length)
    {
        if (length < 0) Throw(offset, unchecked((ulong)length));
        byte* p = At(offset, (ulong)length);
        if (IsDevice) ThrowSpanIntoDevice(offset, length);
        return new Span<byte>(p, length);
    }

    // Whatever a span is given to (CopyTo, SequenceEqual, IndexOf, a parser) may use vector or unaligned accesses.
    private void ThrowSpanIntoDevice(ulong offset, int length) =>
        throw new InvalidOperationException(
            $"no span into device memory: '{Name}' is device memory, where vector and unaligned accesses fault on Arm; copy the {length} bytes at offset 0x{offset:x} with Read/Write instead");

    /// <summary>Copies bytes out of the window (for device memory with aligned word accesses only).</summary>
    public void Read(ulong offset, Span<byte> destination)
    {
        byte* p = At(offset, (ulong)destination.Length);
        if (IsDevice) DeviceMemoryCopy.FromDevice(p, destination);
        else new ReadOnlySpan<byte>(p, destination.Length).CopyTo(destination);
    }

    /// <summary>Copies bytes into the window (for device memory with aligned word accesses only).</summary>
    public void Write(ulong offset, ReadOnlySpan<byte> source)
    {
        byte* p = At(offset, (ulong)source.Length);
        if (IsDevice) DeviceMemoryCopy.ToDevice(p, source);
        else source.CopyTo(new Span<byte>(p, source.Length));
    }

    /// <summary>Zeroes <paramref name="length"/> bytes at <paramref name="offset"/> (device memory word by word, aligned, as <c>memset_io</c>).</summary>
    public void Clear(ulong offset, ulong length)
    {
        Check(offset, length);
        byte* p = _base + offset;
        if (IsDevice)
        {
            DeviceMemoryCopy.Fill(p, length, 0);
            return;
        }
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
        return IsDevice ? ReadDevice<T>(p) : Unsafe.ReadUnaligned<T>(p);
    }

    /// <summary>Writes an unmanaged wire struct (to device memory word by word, aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write<T>(ulong offset, in T value) where T : unmanaged
    {
        byte* p = At(offset, (ulong)sizeof(T));
        if (IsDevice) WriteDevice(p, value);
        else Unsafe.WriteUnaligned(p, value);
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
