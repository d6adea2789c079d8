using System.Text.Json;
using System.Text.Json.Nodes;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem;

namespace AmpCan.Tests.Host;

/// <summary>
/// boards/stm32mp157c-dk2.json as shipped (its regions at the device tree's addresses, its RCC register window and
/// sequences, its firmware name) with what this machine lacks replaced by files in a temporary directory: a sparse
/// file standing in for /dev/mem (file offset = physical address), so the dev-mem regions and the register window are
/// mapped through the very same MapPhysical path as on the board; or, with <c>fileRegions</c>, one file per region
/// (the alias keeps its target's). The IPCC's UIO channels become polling ones, the board's own mode for when the
/// kernel keeps the IPCC; the firmware directory is the temporary directory.
/// </summary>
internal sealed class Stm32BoardStandIn : IDisposable
{
    /// <summary>RCC's base, and the registers the board's sequences write (offsets from it).</summary>
    public const ulong Rcc = 0x5000_0000, McuBoot = 0x10c, McuReset = 0x404, McuPdds = 0x1014;

    /// <summary>The shipped board file, as the test output holds it.</summary>
    public static string ShippedBoard => Path.Combine(TestContext.CurrentContext.TestDirectory, "boards", "stm32mp157c-dk2.json");

    public Stm32BoardStandIn(bool fileRegions, Action<JsonObject>? edit = null)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("ampcan-stm32-").FullName;
        PhysicalMemory = Path.Combine(Directory, "devmem");
        // Sparse: up to the end of the RCC/PWR window at 0x50002000, nothing written but what the test and the host write.
        using (FileStream f = File.Create(PhysicalMemory)) f.SetLength((long)(Rcc + 0x2000));

        JsonObject board = JsonNode.Parse(File.ReadAllText(ShippedBoard), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        board["name"] = $"stm32-standin-{Guid.NewGuid():N}"[..24];
        if (fileRegions)
        {
            foreach (JsonNode? region in board["regions"]!.AsArray())
            {
                string name = region!["aliasOf"] is JsonNode target ? (string)target! : (string)region["name"]!;
                region["backing"] = new JsonObject { ["kind"] = "file", ["path"] = RegionFile(name) };
                if (region["aliasOf"] is null) CreateFilled(RegionFile(name), (long)Hex(region["size"]!));
            }
            board["sharedMemory"] = new JsonObject { ["kind"] = "file", ["path"] = RegionFile("vdev0buffer"), ["size"] = "0x4000", ["deviceAddress"] = "0x10042000" };
        }
        board["mailboxes"] = new JsonArray(
            new JsonObject { ["name"] = "vq0", ["kind"] = "polling", ["notifyIds"] = new JsonArray(0) },
            new JsonObject { ["name"] = "vq1", ["kind"] = "polling", ["notifyIds"] = new JsonArray(1) },
            new JsonObject { ["name"] = "shutdown", ["kind"] = "polling", ["notifyIds"] = new JsonArray(), ["direction"] = "to-remote" });
        board["doorbell"] = new JsonObject { ["kind"] = "polling" };
        JsonObject core = board["core"]!.AsObject();
        core["firmware"] = new JsonObject { ["directory"] = Directory, ["image"] = "ampcan-m4.elf" };
        core["coredump"] = new JsonObject { ["mode"] = "disabled" };
        board["remote"] = new JsonObject { ["startTimeoutSeconds"] = 20 };
        edit?.Invoke(board);
        BoardPath = Path.Combine(Directory, "board.json");
        File.WriteAllText(BoardPath, board.ToJsonString());
        Board = BoardDescriptor.Load(BoardPath);
    }

    public string Directory { get; }
    /// <summary>The file standing in for /dev/mem.</summary>
    public string PhysicalMemory { get; }
    public string BoardPath { get; }
    public BoardDescriptor Board { get; }
    /// <summary>Where the board's core.firmware points.</summary>
    public string FirmwareImage => Path.Combine(Directory, "ampcan-m4.elf");

    public string RegionFile(string region) => Path.Combine(Directory, region + ".bin");

    /// <summary>The register window as the test sees it (another mapping of the stand-in's RCC page).</summary>
    public MappedRegion MapRegisters() => MappedRegion.MapPhysical(Rcc, 0x2000, devMemPath: PhysicalMemory);

    /// <summary>Bytes of the stand-in for /dev/mem at a physical address.</summary>
    public byte[] ReadPhysical(ulong address, int length) => ReadFile(PhysicalMemory, address, length);

    public static byte[] ReadFile(string path, ulong offset, int length)
    {
        using FileStream f = File.OpenRead(path);
        byte[] bytes = new byte[length];
        f.Position = (long)offset;
        f.ReadExactly(bytes);
        return bytes;
    }

    // Region files start as 0xAA, so that a zeroed BSS and an untouched byte are told apart.
    private static void CreateFilled(string path, long size)
    {
        byte[] fill = new byte[size];
        Array.Fill(fill, (byte)0xAA);
        File.WriteAllBytes(path, fill);
    }

    private static ulong Hex(JsonNode node) => Convert.ToUInt64(((string)node!)[2..], 16);

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }
}
