using AmpCan.SharedMem;

namespace AmpCan.Tests.Remoteproc.Firmware;

/// <summary>
/// Two memfd windows a memory map exposes (flash at 0x10000000, SRAM at 0x20000000, one page each), each with a canary
/// page mapped on either side that the map does not expose, and a third region outside the map: a loader that writes
/// outside the map changes a canary or the outsider.
/// </summary>
internal sealed class GuardedMemory : IDisposable
{
    public const ulong FlashAddress = 0x1000_0000, SramAddress = 0x2000_0000, WindowSize = 0x1000;
    public const byte Canary = 0xAA;

    private readonly MappedRegion _flash = MappedRegion.CreateMemfd("flash", 3 * WindowSize, FlashAddress - WindowSize);
    private readonly MappedRegion _sram = MappedRegion.CreateMemfd("sram", 3 * WindowSize, SramAddress - WindowSize);
    private readonly MappedRegion _outside = MappedRegion.CreateMemfd("outside", WindowSize, 0x3000_0000);

    public GuardedMemory()
    {
        Flash = _flash.Io.Slice(WindowSize, WindowSize);
        Sram = _sram.Io.Slice(WindowSize, WindowSize);
        Map = new MemoryMap(Flash, Sram);
        Fill();
    }

    public IoRegion Flash { get; }
    public IoRegion Sram { get; }
    public MemoryMap Map { get; }

    /// <summary>Sets every byte of all three mappings to <see cref="Canary"/>.</summary>
    public void Fill()
    {
        foreach (MappedRegion r in new[] { _flash, _sram, _outside }) r.Io.GetSpan(0, (int)r.Size).Fill(Canary);
    }

    /// <summary>True when the guard pages and the region outside the map still hold only canaries.</summary>
    public bool GuardsIntact() =>
        !_flash.Io.GetSpan(0, (int)WindowSize).ContainsAnyExcept(Canary) && !_flash.Io.GetSpan(2 * WindowSize, (int)WindowSize).ContainsAnyExcept(Canary)
        && !_sram.Io.GetSpan(0, (int)WindowSize).ContainsAnyExcept(Canary) && !_sram.Io.GetSpan(2 * WindowSize, (int)WindowSize).ContainsAnyExcept(Canary)
        && !_outside.Io.GetSpan(0, (int)WindowSize).ContainsAnyExcept(Canary);

    /// <summary>True when nothing at all was written (windows included).</summary>
    public bool Untouched() => GuardsIntact() && !Flash.GetSpan(0, (int)WindowSize).ContainsAnyExcept(Canary) && !Sram.GetSpan(0, (int)WindowSize).ContainsAnyExcept(Canary);

    /// <summary>Device addresses inside the two windows whose byte is no longer the canary.</summary>
    public IEnumerable<ulong> ChangedAddresses()
    {
        foreach (IoRegion w in new[] { Flash, Sram })
        {
            byte[] bytes = w.GetSpan(0, (int)WindowSize).ToArray();
            for (int i = 0; i < bytes.Length; i++)
                if (bytes[i] != Canary) yield return w.DeviceAddress + (ulong)i;
        }
    }

    public void Dispose()
    {
        _flash.Dispose();
        _sram.Dispose();
        _outside.Dispose();
    }
}
