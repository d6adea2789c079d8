namespace AmpCan.Host.Boards;

/// <summary>Where UIO devices are found: their sysfs directories and their device files.</summary>
/// <param name="Sysfs">The directory holding uioN/maps (/sys/class/uio).</param>
/// <param name="Dev">The directory holding the uioN device files (/dev).</param>
public sealed record UioPaths(string Sysfs, string Dev)
{
    /// <summary>The system's.</summary>
    public static UioPaths System { get; } = new("/sys/class/uio", "/dev");
}
