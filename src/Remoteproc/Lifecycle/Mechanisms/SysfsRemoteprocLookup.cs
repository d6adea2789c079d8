using System.Text.RegularExpressions;

namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// Finds a remoteproc's directory under the class directory from a board's <c>core.remoteproc</c>: "remoteprocN" is
/// the directory itself, anything else the rproc's name as its <c>name</c> file gives it. Errors list what exists.
/// </summary>
internal static partial class SysfsRemoteprocLookup
{
    /// <summary>The remoteproc's directory and its name; throws naming every remoteproc found when none (or several) match.</summary>
    public static (string Directory, string Name) Find(string remoteproc, string classDirectory)
    {
        if (!Directory.Exists(classDirectory))
            throw new CoreMechanismException($"remoteproc '{remoteproc}': {classDirectory} does not exist: this kernel has no remoteproc device " +
                "(CONFIG_REMOTEPROC off, or no remoteproc driver bound to the core's device-tree node)");
        List<(string Directory, string Entry, string Name)> found = List(classDirectory);

        if (IndexName().IsMatch(remoteproc))
        {
            foreach (var f in found)
                if (f.Entry == remoteproc) return (f.Directory, f.Name);
            throw new CoreMechanismException($"remoteproc '{remoteproc}': there is no {Path.Combine(classDirectory, remoteproc)}; {Describe(found, classDirectory)}");
        }
        var named = found.Where(f => f.Name == remoteproc).ToList();
        if (named.Count == 1) return (named[0].Directory, named[0].Name);
        if (named.Count > 1)
            throw new CoreMechanismException($"remoteproc '{remoteproc}': several remoteprocs have that name ({string.Join(", ", named.Select(f => f.Entry))}); " +
                "give core.remoteproc as remoteprocN");
        throw new CoreMechanismException($"remoteproc '{remoteproc}': no remoteproc under {classDirectory} has that name; {Describe(found, classDirectory)}");
    }

    // Each entry of the real class directory is a symbolic link to the device's directory; Directory.Exists follows it.
    private static List<(string Directory, string Entry, string Name)> List(string classDirectory)
    {
        var found = new List<(string, string, string)>();
        foreach (string path in Directory.EnumerateFileSystemEntries(classDirectory))
        {
            if (!Directory.Exists(path)) continue;
            string entry = Path.GetFileName(path);
            string name;
            try { name = File.ReadAllText(Path.Combine(path, "name")).Trim(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { name = "?"; }
            found.Add((path, entry, name));
        }
        // remoteproc2 before remoteproc10, as the kernel numbered them.
        found.Sort((a, b) => (Number(a.Item2), a.Item2).CompareTo((Number(b.Item2), b.Item2)));
        return found;
    }

    private static long Number(string entry) =>
        IndexName().Match(entry) is { Success: true } m && long.TryParse(m.Groups[1].ValueSpan, out long n) ? n : long.MaxValue;

    private static string Describe(List<(string Directory, string Entry, string Name)> found, string classDirectory) =>
        found.Count == 0
            ? $"{classDirectory} is empty: no remoteproc driver is bound"
            : $"found: {string.Join(", ", found.Select(f => $"{f.Entry} ({f.Name})"))}";

    [GeneratedRegex(@"^remoteproc(\d+)$")]
    private static partial Regex IndexName();
}
