using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;

namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// AmpCan owns the core (mechanism devmem-registers): the host loads the image into the core's memory, and this
/// writes the board's register sequences through a mapped window (hold before loading, start after, stop), as
/// STM32MP1's RCC hold-boot bit is driven.
/// </summary>
/// <remarks>
/// Each write changes the bits of its mask and keeps the others (read, modify, write); a full mask is written whole
/// without reading, because a write-1-to-set register's read value is not what it holds (reading RCC_MP_GRSTCSETR and
/// writing it back could set its system-reset bit). Accesses are single aligned 32-bit loads and stores in sequence
/// order. The window is the caller's (mapped with <see cref="MappedRegion.MapPhysical"/> on a board): this neither maps
/// nor unmaps it.
/// </remarks>
public sealed class DevmemRegisterMechanism : ICoreMechanism
{
    private const ulong FullMask = uint.MaxValue;

    private readonly RegisterWindowSpec _spec;
    private readonly IoRegion _window;

    /// <summary>The sequences of <paramref name="spec"/>, written through <paramref name="window"/> (offset 0 at the spec's physical address).</summary>
    /// <exception cref="ArgumentException">The window is too small for a write, or a write is not a 32-bit masked write (a spec not validated).</exception>
    public DevmemRegisterMechanism(RegisterWindowSpec spec, IoRegion window)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(window);
        _spec = spec;
        _window = window;
        Check(spec.Start, "start");
        Check(spec.Stop, "stop");
        Check(spec.Hold, "hold");
        Description = $"devmem-registers 0x{spec.PhysicalAddress:x}+0x{spec.Size:x}";
    }

    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public bool CanStart => true;

    /// <inheritdoc/>
    public bool LoadsImage => false;

    /// <inheritdoc/>
    /// <remarks>
    /// Always unknown: reset and hold-boot bits say whether the core may run, not whether firmware runs on it, and the
    /// register window has no status register to read (a board that has one, as STM32MP1's TAMP M4_STATE, would need a
    /// field for it).
    /// </remarks>
    public CoreRunState Probe() => CoreRunState.Unknown;

    /// <inheritdoc/>
    public void Hold() => Apply(_spec.Hold);

    /// <inheritdoc/>
    public void Start(string? image, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        Apply(_spec.Start);
    }

    /// <inheritdoc/>
    public void Stop() => Apply(_spec.Stop);

    /// <inheritdoc/>
    /// <remarks>Nothing to write: the core runs on as released, and a later host attaches to its memory.</remarks>
    public void Detach() { }

    private void Apply(IReadOnlyList<RegisterWrite> writes)
    {
        foreach (RegisterWrite w in writes)
        {
            uint value = (uint)w.Value;
            if (w.Mask != FullMask)
            {
                uint mask = (uint)w.Mask;
                value = (_window.ReadU32Acquire(w.Offset) & ~mask) | (value & mask);
            }
            _window.WriteU32Release(w.Offset, value);
        }
    }

    private void Check(IReadOnlyList<RegisterWrite> writes, string sequence)
    {
        for (int i = 0; i < writes.Count; i++)
        {
            RegisterWrite w = writes[i];
            if (w.Offset % 4 != 0 || !_window.Contains(w.Offset, 4))
                throw new ArgumentException($"register write {sequence}[{i}] at offset 0x{w.Offset:x} is not an aligned 32-bit register inside the mapped window '{_window.Name}' " +
                    $"(0x{_window.Length:x} bytes)", "spec");
            if (w.Mask is 0 or > FullMask || w.Value > FullMask)
                throw new ArgumentException($"register write {sequence}[{i}]: mask 0x{w.Mask:x} and value 0x{w.Value:x} must be 32-bit, the mask not 0", "spec");
        }
    }
}
