namespace AmpCan.RpmsgChar.FrontEnds;

/// <summary>
/// Owner, group and permission bits of every rpmsg_char file, as a udev rule would set them on the kernel's devices
/// (default: root, root, 0600, what devtmpfs gives them).
/// </summary>
/// <param name="Owner">Numeric user id.</param>
/// <param name="Group">Numeric group id.</param>
/// <param name="Mode">Permission bits (0 to 0777).</param>
public sealed record RpmsgCharFileAccess(uint Owner = 0, uint Group = 0, uint Mode = 0x180)
{
    /// <summary>Root's, 0600.</summary>
    public static RpmsgCharFileAccess RootOnly { get; } = new();

    /// <summary>The mode as ls -n and chmod write it in octal ("0600").</summary>
    public string ModeText => "0" + Convert.ToString(Mode, 8);

    /// <summary>Throws naming the problem when <see cref="Mode"/> holds more than permission bits.</summary>
    public RpmsgCharFileAccess Validated() =>
        Mode > 0x1FF ? throw new ArgumentException($"rpmsg_char file mode {Convert.ToString(Mode, 8)} is not a permission (0 to 777 octal)") : this;
}
