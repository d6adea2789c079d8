namespace AmpCan.Remoteproc.Trace;

/// <summary>
/// Where a core's trace goes: <c>&lt;directory&gt;/&lt;core&gt;-&lt;trace&gt;.log</c>, and <c>.log.1</c> for the older half
/// after a rotation. Both names are made safe for a file name here, since the trace's comes from the firmware.
/// </summary>
public static class TraceFileNames
{
    /// <summary>What a trace file's name ends with.</summary>
    public const string Extension = ".log";

    /// <summary>What the rotated (older) file adds to the name.</summary>
    public const string RotatedSuffix = ".1";

    /// <summary>The file name of trace <paramref name="trace"/> of core <paramref name="core"/> (a board's name, "board/core" for a core of a multi-core board).</summary>
    public static string FileName(string core, string trace) => $"{RemoteFileNames.Safe(core)}-{RemoteFileNames.Safe(trace)}{Extension}";

    /// <summary>The path of trace <paramref name="trace"/> of core <paramref name="core"/> in <paramref name="directory"/>.</summary>
    public static string PathFor(string directory, string core, string trace) => Path.Combine(directory, FileName(core, trace));

    /// <summary>The pattern (for <see cref="Directory.EnumerateFiles(string, string)"/>) matching every current trace file of <paramref name="core"/>.</summary>
    /// <remarks>A core whose safe name is this one's followed by '-' and more (board "sim" and board "sim-2") matches too.</remarks>
    public static string Pattern(string core) => $"{RemoteFileNames.Safe(core)}-*{Extension}";

    /// <summary>The path the older half of <paramref name="path"/> is kept under after a rotation.</summary>
    public static string Rotated(string path) => path + RotatedSuffix;
}
