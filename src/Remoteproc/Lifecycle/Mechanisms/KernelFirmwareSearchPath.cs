namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// Where the kernel's firmware loader looks for the name written to a remoteproc's <c>firmware</c>, and the name that
/// makes it load a given file: the kernel takes the first of its directories, in order, that holds the name.
/// </summary>
/// <remarks>
/// The order is drivers/base/firmware_loader/main.c's fw_path: the <c>firmware_class.path</c> parameter when set,
/// /lib/firmware/updates/RELEASE, /lib/firmware/updates, /lib/firmware/RELEASE, /lib/firmware. A name may have
/// directories in it ("ampcan/m4.elf"), so a board's firmware directory may be any directory under one of these. The
/// kernel reads them in its own (the init) mount namespace, so nothing here checks that the file exists: a service in
/// a container sees other files than the kernel does. An image of the same name earlier in the path (say under
/// updates/) is the one the kernel loads; that is the kernel's rule and is not checked either.
/// </remarks>
public static class KernelFirmwareSearchPath
{
    /// <summary>Where the kernel shows its <c>firmware_class.path</c> parameter (empty when unset).</summary>
    public const string ParameterFile = "/sys/module/firmware_class/parameters/path";

    /// <summary>Where the kernel shows its release (UTS_RELEASE), the name of the release-specific directories.</summary>
    public const string ReleaseFile = "/proc/sys/kernel/osrelease";

    /// <summary>The running kernel's search path, read from <paramref name="parameterFile"/> and <paramref name="releaseFile"/> (either may be absent).</summary>
    public static IReadOnlyList<string> Read(string parameterFile = ParameterFile, string releaseFile = ReleaseFile) =>
        For(ReadLine(parameterFile), ReadLine(releaseFile));

    /// <summary>The search path for a <c>firmware_class.path</c> (null or empty: unset) and a kernel release (null: unknown, its two directories left out).</summary>
    public static IReadOnlyList<string> For(string? customPath, string? release)
    {
        var path = new List<string>(5);
        if (!string.IsNullOrEmpty(customPath)) path.Add(Normalise(customPath));
        if (!string.IsNullOrEmpty(release)) path.Add($"/lib/firmware/updates/{release}");
        path.Add("/lib/firmware/updates");
        if (!string.IsNullOrEmpty(release)) path.Add($"/lib/firmware/{release}");
        path.Add("/lib/firmware");
        return path;
    }

    /// <summary>
    /// The name to write to <c>firmware</c> so that the kernel loads <paramref name="image"/> from <paramref name="directory"/>:
    /// the image's path relative to the first search directory holding that directory.
    /// </summary>
    /// <exception cref="CoreMechanismException">The image is not a plain relative name, or the kernel does not search the directory.</exception>
    public static string NameFor(string directory, string image, IReadOnlyList<string> searchPath)
    {
        CheckImage(image, directory);
        if (!Path.IsPathRooted(directory))
            throw new CoreMechanismException($"firmware directory '{directory}' must be an absolute path: the kernel's firmware loader looks in {List(searchPath)}");
        string dir = Normalise(directory);
        foreach (string root in searchPath)
        {
            if (dir == root) return image;
            if (dir.StartsWith(root + "/", StringComparison.Ordinal)) return $"{dir[(root.Length + 1)..]}/{image}";
        }
        throw new CoreMechanismException(
            $"firmware directory '{directory}' is not one the kernel's firmware loader searches ({List(searchPath)}), so the kernel cannot load " +
            $"'{image}' from it: put the image under /lib/firmware (a subdirectory is fine), or boot the kernel with firmware_class.path={dir} " +
            $"(or write it to {ParameterFile})");
    }

    // The kernel stops the name at the first newline (rproc_set_firmware) and loads what the path names: a name that
    // climbs out with ".." or starts at "/" is not the board's image.
    private static void CheckImage(string image, string directory)
    {
        if (image.Length == 0 || image.Any(char.IsControl) || image.StartsWith('/') || image.Contains('\\') ||
            image.Split('/').Any(part => part is "" or "." or ".."))
            throw new CoreMechanismException($"firmware image '{image}' must be a relative file name inside '{directory}' (no '..', no empty or '.' segments, no control characters)");
    }

    private static string Normalise(string path)
    {
        string full = Path.GetFullPath(path.Trim());
        return full.Length > 1 ? full.TrimEnd('/') : full;
    }

    private static string List(IReadOnlyList<string> searchPath) => string.Join(", ", searchPath);

    private static string? ReadLine(string file)
    {
        try { return File.ReadAllText(file).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // no parameter shown (firmware_class built differently) or no /proc: the defaults stand
        }
    }
}
