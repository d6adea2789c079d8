using System.Globalization;

namespace AmpCan.Host.Control;

/// <summary>Turns a user or group, given by name or number, into its id, from <c>/etc/passwd</c> and <c>/etc/group</c>.</summary>
/// <remarks>Local files only, as udev resolves its OWNER= and GROUP=: the control socket is set up at start, before any network directory is reliable.</remarks>
internal static class UnixAccounts
{
    /// <summary>The uid of <paramref name="user"/>; throws naming <paramref name="key"/> when there is no such user.</summary>
    public static uint UserId(string user, string key) => Find(user, "/etc/passwd", "user", key);

    /// <summary>The gid of <paramref name="group"/>; throws naming <paramref name="key"/> when there is no such group.</summary>
    public static uint GroupId(string group, string key) => Find(group, "/etc/group", "group", key);

    private static uint Find(string name, string file, string what, string key)
    {
        if (uint.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out uint id)) return id;
        try
        {
            foreach (string line in File.ReadLines(file))
            {
                string[] fields = line.Split(':');
                if (fields.Length > 2 && fields[0] == name && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out id)) return id;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ControlSocketException($"configuration {key}: cannot read {file} to find {what} '{name}': {e.Message}");
        }
        throw new ControlSocketException($"configuration {key}: no {what} '{name}' in {file} (give a name listed there or a number)");
    }
}
