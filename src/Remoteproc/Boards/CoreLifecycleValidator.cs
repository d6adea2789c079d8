using AmpCan.Remoteproc.Firmware;
using static AmpCan.Remoteproc.Boards.SizeNotation;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// A core's lifecycle: the mechanism agreeing with the older remote.kind, what each mechanism needs and only it
/// (remoteproc for sysfs-remoteproc, a register window for devmem-registers), the firmware image staying inside its
/// directory, register writes inside their window, the coredump and watchdog settings.
/// </summary>
internal static class CoreLifecycleValidator
{
    /// <summary>Most writes in one register sequence.</summary>
    public const int MaxWrites = 32;

    /// <summary>Throws through <paramref name="fail"/> at the first lifecycle field that is wrong.</summary>
    public static void Validate(BoardDescriptor b, Action<string, string> fail)
    {
        if (b.Core is not { } core) return;
        string mechanism = RegionValidator.Kebab(core.Mechanism);
        if (b.Remote.KindGiven && b.Remote.Kind != core.ToRemoteKind())
            fail("core.mechanism", $"'{mechanism}' disagrees with remote.kind '{RegionValidator.Kebab(b.Remote.Kind)}' (which means mechanism " +
                $"'{RegionValidator.Kebab(CoreSpec.From(b.Remote.Kind).Mechanism)}'); give one of them, or make them agree");

        if (core.Mechanism == CoreMechanism.SysfsRemoteproc && core.Remoteproc is null)
            fail("core.remoteproc", "is required for mechanism 'sysfs-remoteproc': remoteprocN, or the rproc's name under /sys/class/remoteproc/*/name");
        if (core.Mechanism != CoreMechanism.SysfsRemoteproc && core.Remoteproc is not null)
            fail("core.remoteproc", $"is for mechanism 'sysfs-remoteproc'; this core's is '{mechanism}'");
        if (core.Remoteproc is string rproc)
        {
            BoardValidator.Text(rproc, "core.remoteproc", maxLength: 64, fail);
            if (rproc.Any(c => c == '/' || char.IsWhiteSpace(c)) || rproc is "." or "..")
                fail("core.remoteproc", $"'{rproc}' is not a remoteproc's directory or name (no '/' or spaces)");
        }

        if (core.Mechanism == CoreMechanism.DevmemRegisters && core.Registers is null)
            fail("core.registers", "is required for mechanism 'devmem-registers': the /dev/mem register window and its start and stop writes");
        if (core.Mechanism != CoreMechanism.DevmemRegisters && core.Registers is not null)
            fail("core.registers", $"is for mechanism 'devmem-registers'; this core's is '{mechanism}'");
        if (core.Registers is { } registers) Window(registers, fail);

        if (core.Mechanism == CoreMechanism.DevmemRegisters && core.Firmware is null)
            fail("core.firmware", "is required for mechanism 'devmem-registers': AmpCan loads the image itself");
        if (core.Firmware is { } firmware) Firmware(firmware, fail);

        CoredumpSpec dump = core.Coredump;
        if (dump.Mode == CoredumpMode.Enabled && dump.Directory is null) fail("core.coredump.directory", "is required when the mode is 'enabled'");
        if (dump.Directory is not null) BoardValidator.Text(dump.Directory, "core.coredump.directory", maxLength: 4096, fail);
        if (dump.MaxFiles is < 1 or > CoredumpSpec.MaxMaxFiles) fail("core.coredump.maxFiles", $"{dump.MaxFiles} must be 1 to {CoredumpSpec.MaxMaxFiles}");
        if (core.WatchdogMs != 0 && core.WatchdogMs is < CoreSpec.MinWatchdogMs or > CoreSpec.MaxWatchdogMs)
            fail("core.watchdogMs", $"{core.WatchdogMs} must be 0 (off) or {CoreSpec.MinWatchdogMs} to {CoreSpec.MaxWatchdogMs} ms");
        if (core.Heartbeat is ulong beat)
        {
            if (core.WatchdogMs == 0) fail("core.heartbeat", "needs core.watchdogMs: the period within which the word must change");
            if (beat % 4 != 0) fail("core.heartbeat", $"0x{beat:x} is not 4-byte aligned (the heartbeat is a 32-bit word)");
        }
    }

    // The image is a name inside the directory: an absolute path or a ".." would load (or let the kernel load) a file
    // the board's author did not put there.
    private static void Firmware(FirmwareSpec f, Action<string, string> fail)
    {
        BoardValidator.Text(f.Directory, "core.firmware.directory", maxLength: 4096, fail);
        BoardValidator.Text(f.Image, "core.firmware.image", maxLength: 255, fail);
        if (f.Image.StartsWith('/') || f.Image.Contains('\\'))
            fail("core.firmware.image", $"'{f.Image}' must be a file name relative to the firmware directory, not an absolute path");
        if (f.Image.Split('/').FirstOrDefault(part => part is "" or "." or "..") is string bad)
            fail("core.firmware.image", $"'{f.Image}' {(bad == ".." ? "escapes the firmware directory with '..'" : "has an empty or '.' path segment")}; " +
                $"give a file name inside '{f.Directory}'");
    }

    private static void Window(RegisterWindowSpec w, Action<string, string> fail)
    {
        if (w.Size == 0) fail("core.registers.size", "must not be 0");
        if (w.PhysicalAddress % 4 != 0) fail("core.registers.physicalAddress", $"0x{w.PhysicalAddress:x} is not a multiple of 4 (the registers are 32-bit)");
        if (w.Size > ulong.MaxValue - w.PhysicalAddress)
            fail("core.registers.size", $"the window {Range(w.PhysicalAddress, w.Size)} wraps past the end of the physical address space");
        if (w.Start.Count == 0) fail("core.registers.start", "must have at least one write (what releases the core)");
        if (w.Stop.Count == 0) fail("core.registers.stop", "must have at least one write (what stops the core)");
        Writes(w.Start, "start", w, fail);
        Writes(w.Stop, "stop", w, fail);
        Writes(w.Hold, "hold", w, fail);
    }

    private static void Writes(IReadOnlyList<RegisterWrite> writes, string name, RegisterWindowSpec w, Action<string, string> fail)
    {
        if (writes.Count > MaxWrites) fail($"core.registers.{name}", $"{writes.Count} writes; at most {MaxWrites}");
        for (int i = 0; i < writes.Count; i++)
        {
            RegisterWrite x = writes[i];
            string at = $"core.registers.{name}[{i}]";
            if (x.Offset % 4 != 0) fail($"{at}.offset", $"0x{x.Offset:x} is not a multiple of 4 (the registers are 32-bit)");
            if (x.Offset > w.Size || w.Size - x.Offset < 4)
                fail($"{at}.offset", $"0x{x.Offset:x} puts the 32-bit register at 0x{w.PhysicalAddress + x.Offset:x}, outside the window {Range(w.PhysicalAddress, w.Size)}");
            if (x.Mask == 0 || x.Mask > uint.MaxValue) fail($"{at}.mask", $"0x{x.Mask:x} must be 1 to 0xffffffff (the bits written)");
            if (x.Value > uint.MaxValue) fail($"{at}.value", $"0x{x.Value:x} does not fit the 32-bit register");
            if ((x.Value & ~x.Mask) != 0) fail($"{at}.value", $"0x{x.Value:x} sets bits outside the mask 0x{x.Mask:x}");
        }
    }
}
