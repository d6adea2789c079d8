namespace AmpCan.VhostUser;

/// <summary>The socket paths of several back ends started from one path, in the style of rust-vmm's vhost-device daemons.</summary>
public static class VhostUserSocketPaths
{
    /// <summary><paramref name="path"/> itself for one socket; PATH0, PATH1, … for <paramref name="count"/> above one.</summary>
    public static IReadOnlyList<string> Expand(string path, int count)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (count == 1) return [path];
        var paths = new string[count];
        for (int i = 0; i < count; i++) paths[i] = path + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return paths;
    }
}
