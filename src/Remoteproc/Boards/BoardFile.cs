using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// A whole board file: one core (the fields of a <see cref="BoardDescriptor"/> at the top level, as sim.json), or
/// several (<c>"name"</c>, <c>"description"</c> and <c>"cores": [ {…}, … ]</c>, each element a core's fields). Each core
/// of a multi-core file is named "&lt;board&gt;/&lt;core&gt;" (zcu102/r5f0); a single-core file's one core keeps the board's name.
/// </summary>
public sealed record BoardFile
{
    /// <summary>Most cores one board file describes.</summary>
    public const int MaxCores = 16;

    /// <summary>The board's name.</summary>
    public required string Name { get; init; }
    /// <summary>One line about the board.</summary>
    public string Description { get; init; } = "";
    /// <summary>Its cores, in file order: one for a single-core file.</summary>
    public required IReadOnlyList<BoardDescriptor> Cores { get; init; }

    /// <summary>Reads and validates any board file (single- or multi-core, served by the host today or not); errors name the file and the field.</summary>
    public static BoardFile Load(string path) => Parse(BoardFileReader.ReadText(path, BoardDescriptor.MaxFileBytes), path);

    /// <summary>Parses and validates board JSON; <paramref name="source"/> names it in errors.</summary>
    public static BoardFile Parse(string json, string source)
    {
        if (CountCores(json) is null)
        {
            BoardDescriptor core = BoardDescriptor.ParseCore(json, source);
            return new BoardFile { Name = core.Name, Description = core.Description, Cores = [core] };
        }
        MultiCoreJson? file;
        try { file = JsonSerializer.Deserialize(json, (JsonTypeInfo<MultiCoreJson>)BoardDescriptor.Json.GetTypeInfo(typeof(MultiCoreJson))); }
        catch (JsonException e)
        {
            throw new BoardException($"board file '{source}': {BoardJsonErrorText.Describe(e)}");
        }
        if (file is null) throw new BoardException($"board file '{source}' is empty");
        void Fail(string field, string why) => throw new BoardException($"board file '{source}': {field}: {why}");

        BoardValidator.Text(file.Name, "name", 64, Fail);
        if (file.Description.Any(char.IsControl)) Fail("description", "must be one line without control characters");
        if (file.Cores.Count == 0) Fail("cores", "must list at least one core");
        if (file.Cores.Count > MaxCores) Fail("cores", $"{file.Cores.Count} cores; at most {MaxCores}");
        var cores = new List<BoardDescriptor>(file.Cores.Count);
        for (int i = 0; i < file.Cores.Count; i++)
        {
            BoardDescriptor core = file.Cores[i];
            BoardNames.Check(core.Name, $"cores[{i}].name", Fail);
            core = core with { Name = $"{file.Name}/{core.Name}" };
            BoardValidator.Validate(core, source, $"cores[{i}].");
            cores.Add(core);
        }
        BoardNames.Unique([.. file.Cores.Select(c => c.Name)], "cores", "core", Fail);
        CoreSetValidator.Validate(cores, Fail);
        return new BoardFile { Name = file.Name, Description = file.Description, Cores = cores };
    }

    /// <summary>The number of cores when the JSON is a multi-core file (its top level has "cores"); null otherwise or when it does not parse.</summary>
    internal static int? CountCores(string json)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("cores", out JsonElement cores)) return null;
            return cores.ValueKind == JsonValueKind.Array ? cores.GetArrayLength() : 0;
        }
        catch (JsonException)
        {
            // Not JSON: the single-core reader says where and why, as it always has.
            return null;
        }
    }

    /// <summary>The top level of a multi-core file.</summary>
    internal sealed record MultiCoreJson
    {
        /// <summary>The board's name.</summary>
        public required string Name { get; init; }
        /// <summary>One line about the board.</summary>
        public string Description { get; init; } = "";
        /// <summary>The cores, each with a core's name ("r5f0") and fields.</summary>
        public required IReadOnlyList<BoardDescriptor> Cores { get; init; }
    }
}
