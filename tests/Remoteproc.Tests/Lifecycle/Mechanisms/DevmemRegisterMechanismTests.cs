using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Lifecycle.Mechanisms;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// The devmem-registers mechanism writing the STM32MP157C-DK2 board file's own RCC/PWR sequences into a memfd standing
/// in for the /dev/mem window (no /dev/mem here): literal register values before and after each sequence, masked
/// writes keeping the other bits, a full-mask write replacing the register. A memfd keeps the last value written, so a
/// sequence's intermediate writes (the release of BOOT_MCU before it is held again) are not visible, and neither is
/// whether a full-mask write read the register first (a real write-1-to-set register is what tells them apart).
/// </summary>
public class DevmemRegisterMechanismTests
{
    private static readonly string Stm32Board = Path.Combine(Path.GetDirectoryName(typeof(DevmemRegisterMechanismTests).Assembly.Location)!, "boards", "stm32mp157c-dk2.json");

    // The window's registers the sequences touch (offsets from RCC at 0x50000000), and one they must not.
    private const ulong McuBoot = 0x10c, McuReset = 0x404, McuPdds = 0x1014, Neighbour = 0x108;

    private MappedRegion _memory = null!;
    private IoRegion _window = null!;

    [SetUp]
    public void SetUp()
    {
        _memory = MappedRegion.CreateMemfd("stm32-rcc", 0x2000, deviceAddress: 0x50000000);
        _window = _memory.Io;
    }

    [TearDown]
    public void TearDown() => _memory.Dispose();

    private static RegisterWindowSpec Stm32Registers() =>
        BoardFile.Load(Stm32Board).Cores.Single().Core!.Registers ?? throw new AssertionException("the STM32 board has no register window");

    private void Set(ulong offset, uint value) => _window.WriteU32(offset, value);

    private (uint Boot, uint Reset, uint Pdds, uint Neighbour) Registers() =>
        (_window.ReadU32(McuBoot), _window.ReadU32(McuReset), _window.ReadU32(McuPdds), _window.ReadU32(Neighbour));

    [Test]
    public void TheBoardsRegisterWindowIsRccAndItsSequencesAreThere()
    {
        RegisterWindowSpec spec = Stm32Registers();
        Assert.That((spec.PhysicalAddress, spec.Size, spec.Start.Count, spec.Stop.Count, spec.Hold.Count), Is.EqualTo((0x50000000UL, 0x2000UL, 3, 3, 1)));
        var mechanism = new DevmemRegisterMechanism(spec, _window);
        Assert.That((mechanism.Description, mechanism.CanStart, mechanism.LoadsImage), Is.EqualTo(("devmem-registers 0x50000000+0x2000", true, false)));
    }

    [Test]
    public void HoldClearsBootMcuAndKeepsTheOtherBits()
    {
        var mechanism = new DevmemRegisterMechanism(Stm32Registers(), _window);
        Set(McuBoot, 0x0000_0103); // BOOT_MCU (bit 0) released, bits 1 and 8 someone else's
        Set(Neighbour, 0xcafe_f00d);
        mechanism.Hold();
        Assert.That(Registers(), Is.EqualTo((0x0000_0102u, 0u, 0u, 0xcafe_f00du)));
    }

    [Test]
    public void StartClearsPddsAndLeavesBootMcuHeldAgain()
    {
        var mechanism = new DevmemRegisterMechanism(Stm32Registers(), _window);
        Set(McuBoot, 0x0000_0100);
        Set(McuPdds, 0x8000_0011); // PDDS (bit 0) set, bits 4 and 31 kept
        Set(Neighbour, 0xcafe_f00d);
        mechanism.Start(null, CancellationToken.None);
        // Released then held again at once (stm32_rproc_start), so a later self-reset of the M4 stays held.
        Assert.That(Registers(), Is.EqualTo((0x0000_0100u, 0u, 0x8000_0010u, 0xcafe_f00du)));
    }

    [Test]
    public void StopHoldsResetsAndSetsPdds()
    {
        var mechanism = new DevmemRegisterMechanism(Stm32Registers(), _window);
        Set(McuBoot, 0xffff_ffff);
        Set(McuReset, 0xffff_fffd); // a full-mask write replaces it whole: bit 0 (the system reset) must not survive
        Set(McuPdds, 0x0000_0010);
        Set(Neighbour, 0xcafe_f00d);
        mechanism.Stop();
        Assert.That(Registers(), Is.EqualTo((0xffff_fffeu, 0x0000_0002u, 0x0000_0011u, 0xcafe_f00du)));
    }

    [Test]
    public void AMaskedWriteChangesOnlyItsBitsAndAFullMaskReplaces()
    {
        var spec = new RegisterWindowSpec
        {
            PhysicalAddress = 0x30390000, Size = 0x100,
            Start = [new RegisterWrite { Offset = 0xc, Mask = 0xf, Value = 0xe }],       // i.MX8MP SRC_SCR: start
            Stop = [new RegisterWrite { Offset = 0xc, Mask = 0xf, Value = 0xa }],        // and stop
            Hold = [new RegisterWrite { Offset = 0x10, Mask = 0xffff_ffff, Value = 0x1 }],
        };
        var mechanism = new DevmemRegisterMechanism(spec, _window);
        Set(0xc, 0x1234_5671);
        Set(0x10, 0xffff_fff0);
        mechanism.Start(null, CancellationToken.None);
        Assert.That(_window.ReadU32(0xc), Is.EqualTo(0x1234_567eu));
        mechanism.Stop();
        Assert.That(_window.ReadU32(0xc), Is.EqualTo(0x1234_567au));
        mechanism.Hold();
        Assert.That(_window.ReadU32(0x10), Is.EqualTo(0x0000_0001u));
    }

    [Test]
    public void ProbeIsUnknownAndDetachWritesNothing()
    {
        var mechanism = new DevmemRegisterMechanism(Stm32Registers(), _window);
        Set(McuBoot, 0x0000_0001);
        Assert.That(mechanism.Probe(), Is.EqualTo(CoreRunState.Unknown));
        mechanism.Detach();
        Assert.That(_window.ReadU32(McuBoot), Is.EqualTo(1u), "detaching leaves the core released");
    }

    [Test]
    public void AWindowTooSmallForAWriteIsRefusedNamingIt()
    {
        using MappedRegion small = MappedRegion.CreateMemfd("small-rcc", 0x1000, deviceAddress: 0x50000000);
        Assert.That(Assert.Throws<ArgumentException>(() => new DevmemRegisterMechanism(Stm32Registers(), small.Io))!.Message,
            Does.Contain("start[0] at offset 0x1014").And.Contain("'small-rcc'"));
    }

    [Test]
    public void ACancelledStartWritesNothing()
    {
        var mechanism = new DevmemRegisterMechanism(Stm32Registers(), _window);
        Set(McuPdds, 1);
        Assert.That(() => mechanism.Start(null, new CancellationToken(canceled: true)), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(_window.ReadU32(McuPdds), Is.EqualTo(1u));
    }
}
