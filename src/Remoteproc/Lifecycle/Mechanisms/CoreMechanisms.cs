using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;

namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>The mechanism a board's <c>core</c> names, for the cores that run on real hardware.</summary>
public static class CoreMechanisms
{
    /// <summary>
    /// The mechanism for <paramref name="spec"/>: sysfs-remoteproc (found under <paramref name="sysfs"/>'s class
    /// directory), devmem-registers (its window mapped by <paramref name="mapRegisters"/>(physical address, size), which
    /// the caller keeps and unmaps), or attach-only.
    /// </summary>
    /// <exception cref="ArgumentException">The core is simulated or external (the host runs those itself), or devmem-registers without <paramref name="mapRegisters"/>.</exception>
    /// <exception cref="CoreMechanismException">The remoteproc is not found, or the kernel does not search the firmware directory.</exception>
    public static ICoreMechanism For(CoreSpec spec, Func<ulong, ulong, IoRegion>? mapRegisters = null, SysfsRemoteprocOptions? sysfs = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        switch (spec.Mechanism)
        {
            case CoreMechanism.SysfsRemoteproc:
                return new SysfsRemoteprocMechanism(spec.Remoteproc ?? throw Unvalidated("core.remoteproc"), spec.Firmware, sysfs);
            case CoreMechanism.DevmemRegisters:
                RegisterWindowSpec registers = spec.Registers ?? throw Unvalidated("core.registers");
                if (mapRegisters is null)
                    throw new ArgumentException("mechanism 'devmem-registers' needs its register window mapped: pass mapRegisters " +
                        "(on a board, MappedRegion.MapPhysical over /dev/mem)", nameof(mapRegisters));
                return new DevmemRegisterMechanism(registers, mapRegisters(registers.PhysicalAddress, registers.Size));
            case CoreMechanism.AttachOnly:
                return new AttachOnlyMechanism();
            default:
                throw new ArgumentException($"mechanism '{RegionValidator.Kebab(spec.Mechanism)}' is not a real core's: the host runs simulated and simulated-process remotes itself, " +
                    "and an external remote is started by whatever runs it", nameof(spec));
        }
    }

    private static ArgumentException Unvalidated(string field) =>
        new($"{field} is missing: the core spec was not validated (BoardFile.Load validates it)", "spec");
}
