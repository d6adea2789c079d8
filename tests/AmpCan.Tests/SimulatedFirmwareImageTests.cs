using System.Text;
using AmpCan.Host.Boards;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Rpmsg;
using AmpCan.Simulation;
using AmpCan.Tests.Remoteproc.Firmware;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Tests.Host;

/// <summary>
/// The simulated core boots from a real ELF image, the path a real core takes: the host loads the image's PT_LOAD
/// segments into the sim board's shared memory, and the simulated core reads its resource table from where the image's
/// <c>.resource_table</c> section put it instead of writing its own.
/// </summary>
[NonParallelizable]
public class SimulatedFirmwareImageTests
{
    private const ulong Window = 0x3000_0000, Code = 0x3000_3000;
    private string _image = null!;

    [SetUp]
    public void SetUp() => _image = Path.Combine(Path.GetTempPath(), $"ampcan-sim-fw-{Guid.NewGuid():N}.elf");

    [TearDown]
    public void TearDown() => File.Delete(_image);

    private static BoardDescriptor Sim() => BoardDescriptor.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "sim.json"));

    // An image whose table is the sim firmware's with rings of queueSize entries (not the 256 the simulated core would
    // write itself), and a code segment of recognisable bytes.
    private void WriteImage(BoardDescriptor board, int queueSize, bool withTable = true, ulong tableAt = Window)
    {
        byte[] table = (SimulatedFirmware.For(board) with { QueueSize = queueSize }).ResourceTable(Window);
        byte[] code = [.. Enumerable.Range(0, 0x40).Select(i => (byte)(0xC0 + i))];
        var elf = new ElfBuilder(ElfClass.Elf32, entry: Code | 1).Segment(Code, code).SectionInSegment(".text", 0, 0, code.Length)
            .Segment(tableAt, table, flags: FlagRead | FlagWrite);
        if (withTable) elf.SectionInSegment(".resource_table", 1, 0, table.Length);
        File.WriteAllBytes(_image, elf.Build().Bytes);
    }

    [Test]
    public void TheSimulatedCoreServesTheTableTheHostLoadedFromTheImage()
    {
        BoardDescriptor board = Sim();
        WriteImage(board, queueSize: 64);
        using BoardHost host = BoardHost.Start(board, new BoardHostOptions { Remote = RemoteKind.Simulated, FirmwareImage = _image });
        Assert.That(host.ResourceTable.Vdevs[0].Vring(0).QueueSize, Is.EqualTo(64u), "the rings the image's table gives, not the simulated core's own 256");
        byte[] code = new byte[0x40];
        host.SharedMemory.Io.Read(Code - Window, code);
        Assert.That(code, Is.EqualTo(Enumerable.Range(0, 0x40).Select(i => (byte)(0xC0 + i))), "the code segment landed at its p_paddr");

        RpmsgChannel? echo = null;
        Assert.That(SpinWait.SpinUntil(() => (echo = host.Rpmsg.Channels.FirstOrDefault(c => c.Name == "rpmsg-echo")) is not null, TimeSpan.FromSeconds(30)), Is.True);
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("client", null, destination: echo!.RemoteAddress);
        ep.Send(Encoding.ASCII.GetBytes("booted from an ELF"));
        using RpmsgMessage reply = ep.Receive(TimeSpan.FromSeconds(30));
        Assert.That(Encoding.ASCII.GetString(reply.Payload), Is.EqualTo("booted from an ELF"));
    }

    [Test]
    public void AnImageWithoutAResourceTableIsRefusedNamingIt()
    {
        BoardDescriptor board = Sim();
        WriteImage(board, queueSize: 64, withTable: false);
        Assert.That(() => BoardHost.Start(board, new BoardHostOptions { Remote = RemoteKind.Simulated, FirmwareImage = _image }),
            Throws.TypeOf<BoardException>().With.Message.Contains("has no .resource_table section"));
    }

    [Test]
    public void AnImageThatDoesNotFitTheBoardIsRefusedBeforeAnythingStarts()
    {
        BoardDescriptor board = Sim();
        File.WriteAllBytes(_image, new ElfBuilder(ElfClass.Elf32).Segment(0x4000_0000, [1, 2, 3]).Build().Bytes);
        Assert.That(() => BoardHost.Start(board, new BoardHostOptions { Remote = RemoteKind.Simulated, FirmwareImage = _image }),
            Throws.TypeOf<BoardException>().With.Message.Contains("firmware").And.Message.Contains("0x40000000"));
    }

    // The layout check looks where the image put the table, not at resourceTable.offset.
    [Test]
    public void ATableTheImagePutsInTheBufferPoolIsRefusedWhereItIs()
    {
        BoardDescriptor board = Sim();
        WriteImage(board, queueSize: 64, tableAt: Window + board.Rpmsg.BufferPoolOffset);
        Assert.That(() => BoardHost.Start(board, new BoardHostOptions { Remote = RemoteKind.Simulated, FirmwareImage = _image }),
            Throws.TypeOf<BoardException>().With.Message.Contains("the resource table").And.Message.Contains("0x30010000").And.Message.Contains("overlaps"));
    }
}
