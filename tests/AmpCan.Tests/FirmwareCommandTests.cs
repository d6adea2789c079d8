using System.IO.Hashing;
using System.Text.Json;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Wire;

namespace AmpCan.Tests.Host;

public class FirmwareCommandTests
{
    // Inside the sim board's shared memory (0x30000000, 1 MiB): the table at its start, code 64 KiB in.
    private const uint Data = 0x3000_0000, Code = 0x3001_0000;

    private string _path = null!;

    [SetUp]
    public void SetUp() => _path = Path.Combine(Path.GetTempPath(), $"ampcan-fw-{Guid.NewGuid():N}.elf");

    [TearDown]
    public void TearDown() => File.Delete(_path);

    private static byte[] Table(uint version = 1)
    {
        byte[] t = new ResourceTableBuilder()
            .Vdev(7, 0, 1, [new VringSpec(0x3000_4000, 0x1000, 256, 1), new VringSpec(0x3000_8000, 0x1000, 256, 2)])
            .Vdev(36, 100, 0xF, [new VringSpec(ResourceTableLayout.AddressAny, 16, 64, 5), new VringSpec(ResourceTableLayout.AddressAny, 16, 64, 6), new VringSpec(ResourceTableLayout.AddressAny, 16, 64, 7)], new byte[2])
            .Carveout(0x3002_0000, 0x3002_0000, 0x8000, 0, "heap")
            .Trace(0x3003_0000, 0x1000, "trace0")
            .Build();
        BitConverter.TryWriteBytes(t.AsSpan(0, 4), version);
        return t;
    }

    private byte[] Write(uint codeAddress = Code, uint version = 1)
    {
        byte[] image = FirmwareTestImage.Build(codeAddress, [.. Enumerable.Range(0, 96).Select(i => (byte)i)], Data, Table(version), 0x400, codeAddress | 1);
        File.WriteAllBytes(_path, image);
        return image;
    }

    private static (int Code, string Output, string Error) Run(params string[] args) => CommandLineTests.RunWithOutput(args);

    [Test]
    public void TextShowsSegmentsEntryTableAndCrc()
    {
        byte[] image = Write();
        var (code, output, error) = Run("firmware", "inspect", _path);
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain($"{_path}: ELF32 little-endian executable, machine ARM (40), {image.Length} bytes")
            .And.Contain("entry point  0x30010001")
            .And.Contain($"CRC-64       0x{Crc64.HashToUInt64(image):x16}")
            .And.Contain("0   LOAD          0x78        0x30010000          0x30010000          0x60        0x60        R-X")
            .And.Match(@"1   LOAD\s+0x\w+\s+0x30000000\s+0x30000000\s+0x\w+\s+0x\w+\s+RW-")
            .And.Contain(".resource_table")
            .And.Contain("Resource table: section 2 (.resource_table), device address 0x30000000")
            .And.Contain("[0] vdev id 7 (rpmsg), notifyid 0, dfeatures 0x1, config 0 bytes, 2 vrings")
            .And.Contain("vring 1: da 0x30008000, align 4096, num 256, notifyid 2")
            .And.Contain("[1] vdev id 36 (can), notifyid 100, dfeatures 0xf, config 2 bytes, 3 vrings")
            .And.Contain("vring 2: da any, align 16, num 64, notifyid 7")
            .And.Contain("[2] carveout \"heap\": da 0x30020000, pa 0x30020000, len 0x8000, flags 0x0")
            .And.Contain("[3] trace \"trace0\": da 0x30030000, len 0x1000"));
        Assert.That(error, Is.Empty);
    }

    [Test]
    public void JsonIsOneDocumentWithEveryEntry()
    {
        byte[] image = Write();
        var (code, output, error) = Run("firmware", "inspect", _path, "--json");
        Assert.That(code, Is.Zero, error);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement root = doc.RootElement;
        Assert.That(root.GetProperty("crc64").GetString(), Is.EqualTo($"0x{Crc64.HashToUInt64(image):x16}"));
        Assert.That(root.GetProperty("class").GetString(), Is.EqualTo("ELF32"));
        Assert.That(root.GetProperty("machineName").GetString(), Is.EqualTo("ARM"));
        Assert.That(root.GetProperty("entry").GetString(), Is.EqualTo("0x30010001"));
        Assert.That(root.GetProperty("segments").EnumerateArray().Select(s => s.GetProperty("paddr").GetString()), Is.EqualTo(new[] { "0x30010000", "0x30000000" }));
        Assert.That(root.GetProperty("segments")[1].GetProperty("memorySize").GetUInt64(), Is.EqualTo((ulong)Table().Length + 0x400));
        JsonElement table = root.GetProperty("resourceTable");
        Assert.That(table.GetProperty("deviceAddress").GetString(), Is.EqualTo("0x30000000"));
        JsonElement[] vdevs = [.. table.GetProperty("vdevs").EnumerateArray()];
        Assert.That(vdevs.Select(v => (v.GetProperty("id").GetUInt32(), v.GetProperty("name").GetString())), Is.EqualTo(new[] { (7u, "rpmsg"), (36u, "can") }));
        JsonElement ring = vdevs[0].GetProperty("vrings")[1];
        Assert.That((ring.GetProperty("deviceAddress").GetString(), ring.GetProperty("align").GetUInt32(), ring.GetProperty("num").GetUInt32(), ring.GetProperty("notifyId").GetUInt32()),
            Is.EqualTo(("0x30008000", 4096u, 256u, 2u)));
        Assert.That(table.GetProperty("carveouts")[0].GetProperty("name").GetString(), Is.EqualTo("heap"));
        Assert.That(table.GetProperty("traces")[0].GetProperty("length").GetUInt32(), Is.EqualTo(0x1000u));
        Assert.That(root.GetProperty("board").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public void ABoardTheImageFitsExitsZero()
    {
        Write();
        var (code, output, error) = Run("firmware", "inspect", _path, "--board", "sim");
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("Board sim (").And.Contain("fits     program header 0 (PT_LOAD): 0x30010000 + 0x60").And.Contain("the image fits the board"));
    }

    [Test]
    public void ASegmentOutsideTheBoardIsNamedAndExitsTwo()
    {
        Write(codeAddress: 0x0800_0000); // flash, which the sim board does not have
        var (code, output, _) = Run("firmware", "inspect", _path, "--board", "sim");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(output, Does.Contain("OUTSIDE  program header 0 (PT_LOAD): 0x8000000 + 0x60").And.Contain("the image does NOT fit the board"));
        (code, output, _) = Run("firmware", "inspect", _path, "--board", "sim", "--json");
        Assert.That(code, Is.EqualTo(2));
        using JsonDocument doc = JsonDocument.Parse(output);
        Assert.That(doc.RootElement.GetProperty("board").GetProperty("fits").GetBoolean(), Is.False);
    }

    [Test]
    public void AMalformedImageIsOneLineNamingTheFileAndExitsNonZero()
    {
        byte[] image = Write();
        File.WriteAllBytes(_path, image[..30]);
        var (code, output, error) = Run("firmware", "inspect", _path);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Is.EqualTo($"ampcan: {_path}: file of 30 bytes is shorter than the 52-byte ELF32 header{Environment.NewLine}"));
        Assert.That(output, Is.Empty);
    }

    [Test]
    public void AMalformedResourceTableNamesTheSectionAndTheProblem()
    {
        Write(version: 2);
        var (code, _, error) = Run("firmware", "inspect", _path);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Is.EqualTo($"ampcan: {_path}: section 2 (.resource_table): resource table version 2 is not supported (expected 1){Environment.NewLine}"));
    }

    [Test]
    public void AMissingFileOrBoardIsNamed()
    {
        var (code, _, error) = Run("firmware", "inspect", _path);
        Assert.That((code, error.Trim()), Is.EqualTo((1, $"ampcan: {_path}: does not exist")));
        Write();
        (code, _, error) = Run("firmware", "inspect", _path, "--board", "no-such-board");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("no-such-board").And.Contain("not found"));
    }

    /// <summary>The real image gcc-arm-none-eabi builds from tests/firmware/cortex-m (STM32MP157's M4 addresses).</summary>
    [Test]
    public void InspectReadsTheCrossCompiledCortexMImage()
    {
        string image = CortexMFirmware.Build();
        var (code, output, error) = Run("firmware", "inspect", image);
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("ELF32 little-endian executable, machine ARM (40)")
            .And.Match(@"LOAD\s+0x\w+\s+0x0\s+0x0\s+0x\w+\s+0x\w+\s+R-X") // vectors and code in RETRAM at device address 0
            .And.Contain("Resource table: section")
            .And.Contain("vdev id 7 (rpmsg), notifyid 2, dfeatures 0x1")
            .And.Contain("vring 0: da 0x10040000, align 16, num 16, notifyid 0")
            .And.Contain("vring 1: da 0x10041000, align 16, num 16, notifyid 1")
            .And.Contain("trace \"cm4_log\""));
        var (jsonCode, json, _) = Run("firmware", "inspect", image, "--json");
        Assert.That(jsonCode, Is.Zero);
        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.That(doc.RootElement.ValueKind, Is.EqualTo(JsonValueKind.Object));
    }
}
