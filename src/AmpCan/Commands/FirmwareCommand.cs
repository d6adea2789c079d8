using System.CommandLine;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AmpCan.Host.Service;
using AmpCan.Remoteproc;
using AmpCan.Remoteproc.Boards;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Wire;
using static AmpCan.Remoteproc.Firmware.Wire.ElfLayout;

namespace AmpCan.Host.Commands;

/// <summary><c>ampcan firmware inspect FILE</c>: what a field engineer checks in an image before deploying it.</summary>
internal static class FirmwareCommand
{
    /// <summary>Exit code when the image is sound but does not fit the board given with --board.</summary>
    public const int DoesNotFit = 2;

    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The firmware ELF image (32- or 64-bit, little-endian)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        Option<string?> board = CommonOptions.Board("Also check that every PT_LOAD segment and the resource table fit this board's memory: a board file, or a name under boards/");
        var inspect = new Command("inspect", $"Show an image's segments, entry point, resource table and CRC-64 (exit {DoesNotFit} when it does not fit --board)") { file, json, board };
        inspect.SetAction(r => Inspect(r.GetValue(file)!, r.GetValue(json), r.GetValue(board), Console.Out));
        return new Command("firmware", "Firmware images for the remote core") { inspect };
    }

    /// <summary>Inspects <paramref name="path"/>; errors are <see cref="FirmwareException"/>s whose message starts with the path.</summary>
    public static int Inspect(string path, bool json, string? boardName, TextWriter output)
    {
        ElfImage image = ElfImage.Load(path);
        FirmwareResourceTable? table;
        try { table = FirmwareResourceTable.Decode(image); }
        catch (FirmwareException e)
        {
            throw new FirmwareException($"{path}: {e.Message}");
        }
        ulong crc = Crc64.HashToUInt64(image.Bytes.Span);
        BoardFit? fit = null;
        string? boardPath = null;
        if (boardName is not null)
        {
            boardPath = BoardFiles.Resolve(boardName);
            fit = BoardFit.Check(image, BoardDescriptor.Load(boardPath));
        }
        if (json) output.WriteLine(Document(path, image, crc, table, fit, boardPath).ToJsonString(JsonOptions));
        else WriteText(output, path, image, crc, table, fit, boardPath);
        return fit is { Fits: false } ? DoesNotFit : 0;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private static string Hex(ulong v) => $"0x{v:x}";

    private static string ClassName(ElfClass c) => c == ElfClass.Elf64 ? "ELF64" : "ELF32";

    private static string TypeName(ushort t) => t switch
    {
        TypeNone => "none", TypeRelocatable => "relocatable", TypeExecutable => "executable", TypeShared => "shared object", TypeCore => "core",
        _ => $"type 0x{t:x}",
    };

    // Sections that take memory at run time (SHF_ALLOC): what a field engineer compares with the board's map.
    private static IEnumerable<ElfSection> SectionsOfInterest(ElfImage image) =>
        image.Sections.Where(s => (s.Flags & 2) != 0 || s.Name == ResourceTableSection.SectionName);

    // Names come from the file: anything that is not printable is shown escaped so it cannot drive the terminal.
    private static string Printable(string s) =>
        string.Concat(s.Select(c => char.IsControl(c) || char.IsSurrogate(c) ? $"\\x{(int)c:x2}" : c.ToString()));

    // A JSON tree built by hand rather than serialized anonymous types: anonymous types have no compile-time JSON
    // metadata, and reflection-based serialization is not available in a trimmed or Native AOT build. Keys are the
    // camel-case names the document has always had.
    private static JsonObject Document(string path, ElfImage image, ulong crc, FirmwareResourceTable? table, BoardFit? fit, string? boardPath) => new()
    {
        ["file"] = path,
        ["size"] = image.Bytes.Length,
        ["crc64"] = $"0x{crc:x16}",
        ["class"] = ClassName(image.Class),
        ["type"] = TypeName(image.Type),
        ["machine"] = image.Machine,
        ["machineName"] = ElfMachine.Name(image.Machine),
        ["entry"] = Hex(image.Entry),
        ["segments"] = Array(image.Segments, s => new JsonObject
        {
            ["index"] = s.Index, ["type"] = s.TypeName, ["offset"] = Hex(s.Offset), ["paddr"] = Hex(s.PhysicalAddress), ["vaddr"] = Hex(s.VirtualAddress),
            ["fileSize"] = s.FileSize, ["memorySize"] = s.MemorySize, ["flags"] = s.FlagsText,
        }),
        ["sections"] = Array(SectionsOfInterest(image), s => new JsonObject
        {
            ["index"] = s.Index, ["name"] = s.Name, ["type"] = s.HasFileBytes ? "bits" : "nobits", ["address"] = Hex(s.Address), ["offset"] = Hex(s.Offset), ["size"] = s.Size,
        }),
        ["resourceTable"] = table is null ? null : new JsonObject
        {
            ["section"] = table.Location.SectionIndex, ["deviceAddress"] = Hex(table.Location.DeviceAddress), ["fileOffset"] = Hex(table.Location.FileOffset),
            ["size"] = table.Location.Size, ["version"] = table.Version, ["entries"] = table.EntryCount,
            ["vdevs"] = Array(table.Vdevs, v => new JsonObject
            {
                ["index"] = v.Index, ["id"] = v.Id, ["name"] = v.Name, ["notifyId"] = v.NotifyId, ["deviceFeatures"] = Hex(v.DeviceFeatures), ["configLength"] = v.ConfigLength,
                ["vrings"] = Array(v.Vrings, r => new JsonObject
                {
                    ["index"] = r.Index, ["deviceAddress"] = DaText(r.DeviceAddress), ["align"] = r.Align, ["num"] = r.QueueSize, ["notifyId"] = r.NotifyId,
                }),
            }),
            ["carveouts"] = Array(table.Carveouts, c => new JsonObject
            {
                ["index"] = c.Index, ["type"] = c.Type == ResourceType.DevMem ? "devmem" : "carveout", ["name"] = c.Name, ["deviceAddress"] = DaText(c.DeviceAddress),
                ["physicalAddress"] = DaText(c.PhysicalAddress), ["length"] = c.Length, ["flags"] = Hex(c.Flags),
            }),
            ["traces"] = Array(table.Traces, t => new JsonObject { ["index"] = t.Index, ["name"] = t.Name, ["deviceAddress"] = DaText(t.DeviceAddress), ["length"] = t.Length }),
            ["skipped"] = Array(table.Skipped, s => new JsonObject { ["index"] = s.Index, ["type"] = s.Type, ["offset"] = Hex(s.Offset), ["description"] = s.Description }),
        },
        ["board"] = fit is null ? null : new JsonObject
        {
            ["name"] = fit.Board, ["file"] = boardPath, ["windowAddress"] = Hex(fit.WindowAddress), ["windowSize"] = fit.WindowSize, ["fits"] = fit.Fits,
            ["ranges"] = Array(fit.Ranges, r => new JsonObject { ["what"] = r.What, ["deviceAddress"] = Hex(r.DeviceAddress), ["size"] = r.Size, ["fits"] = r.Fits }),
        },
    };

    private static JsonArray Array<T>(IEnumerable<T> items, Func<T, JsonObject> item) => new([.. items.Select(i => (JsonNode)item(i))]);

    // FW_RSC_ADDR_ANY means "the host allocates it": say so instead of printing 0xffffffff.
    private static string DaText(uint da) => da == ResourceTableLayout.AddressAny ? "any" : Hex(da);

    private static void WriteText(TextWriter o, string path, ElfImage image, ulong crc, FirmwareResourceTable? table, BoardFit? fit, string? boardPath)
    {
        var c = CultureInfo.InvariantCulture;
        o.WriteLine($"{path}: {ClassName(image.Class)} little-endian {TypeName(image.Type)}, machine {ElfMachine.Name(image.Machine)} ({image.Machine}), {image.Bytes.Length} bytes");
        o.WriteLine($"  entry point  {Hex(image.Entry)}");
        o.WriteLine($"  CRC-64       0x{crc:x16} (ECMA-182, System.IO.Hashing)");
        o.WriteLine();
        o.WriteLine($"Segments ({image.Segments.Count}):");
        o.WriteLine("  #   type          offset      paddr               vaddr               filesz      memsz       flags");
        foreach (ElfSegment s in image.Segments)
            o.WriteLine(string.Format(c, "  {0,-3} {1,-13} {2,-11} {3,-19} {4,-19} {5,-11} {6,-11} {7}", s.Index, s.TypeName, Hex(s.Offset),
                Hex(s.PhysicalAddress), Hex(s.VirtualAddress), Hex(s.FileSize), Hex(s.MemorySize), s.FlagsText));
        ElfSection[] sections = [.. SectionsOfInterest(image)];
        o.WriteLine();
        o.WriteLine($"Sections that take memory ({sections.Length} of {image.Sections.Count}):");
        o.WriteLine("  #   name                 address             offset      size        kind");
        foreach (ElfSection s in sections)
            o.WriteLine(string.Format(c, "  {0,-3} {1,-20} {2,-19} {3,-11} {4,-11} {5}", s.Index, Printable(s.Name), Hex(s.Address), Hex(s.Offset),
                Hex(s.Size), s.HasFileBytes ? "bits" : "nobits (zeroed)"));
        o.WriteLine();
        if (table is null) o.WriteLine("Resource table: none (no .resource_table section)");
        else WriteTable(o, table);
        if (fit is not null) WriteFit(o, fit, boardPath!);
    }

    private static void WriteTable(TextWriter o, FirmwareResourceTable t)
    {
        ResourceTableSection l = t.Location;
        o.WriteLine($"Resource table: section {l.SectionIndex} (.resource_table), device address {Hex(l.DeviceAddress)}, file offset {Hex(l.FileOffset)}, {l.Size} bytes, version {t.Version}, {t.EntryCount} entries");
        foreach (FirmwareVdev v in t.Vdevs)
        {
            o.WriteLine($"  [{v.Index}] vdev id {v.Id} ({v.Name}), notifyid {v.NotifyId}, dfeatures {Hex(v.DeviceFeatures)}, config {v.ConfigLength} bytes, {v.Vrings.Count} vrings");
            foreach (VringResource r in v.Vrings)
                o.WriteLine($"        vring {r.Index}: da {DaText(r.DeviceAddress)}, align {r.Align}, num {r.QueueSize}, notifyid {r.NotifyId}");
        }
        foreach (CarveoutResource cv in t.Carveouts)
            o.WriteLine($"  [{cv.Index}] {(cv.Type == ResourceType.DevMem ? "devmem" : "carveout")} \"{Printable(cv.Name)}\": da {DaText(cv.DeviceAddress)}, pa {DaText(cv.PhysicalAddress)}, len {Hex(cv.Length)}, flags {Hex(cv.Flags)}");
        foreach (TraceResource tr in t.Traces)
            o.WriteLine($"  [{tr.Index}] trace \"{Printable(tr.Name)}\": da {DaText(tr.DeviceAddress)}, len {Hex(tr.Length)}");
        foreach (SkippedResource s in t.Skipped)
            o.WriteLine($"  [{s.Index}] {s.Description}");
    }

    private static void WriteFit(TextWriter o, BoardFit fit, string boardPath)
    {
        o.WriteLine();
        o.WriteLine($"Board {Printable(fit.Board)} ({boardPath}): shared memory {Hex(fit.WindowAddress)}..{Hex(fit.WindowAddress + fit.WindowSize - 1)} ({Hex(fit.WindowSize)} bytes)");
        foreach (RangeFit r in fit.Ranges)
            o.WriteLine($"  {(r.Fits ? "fits    " : "OUTSIDE ")} {r.What}: {Hex(r.DeviceAddress)} + {Hex(r.Size)}");
        o.WriteLine(fit.Fits ? "  the image fits the board" : "  the image does NOT fit the board");
    }
}
