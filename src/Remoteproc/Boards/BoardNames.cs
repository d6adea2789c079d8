namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// The names a board file gives its regions, mailbox channels and cores: 1 to 31 characters of a device-tree node name
/// (letters, digits, '-', '_', '.', ',', '+'), so that they can be the device tree's own names and appear in paths and
/// log lines without quoting.
/// </summary>
internal static class BoardNames
{
    /// <summary>Longest name (a device-tree node name without its unit address is at most 31 characters).</summary>
    public const int MaxLength = 31;

    /// <summary>Fails naming <paramref name="field"/> unless <paramref name="value"/> is such a name.</summary>
    public static void Check(string value, string field, Action<string, string> fail)
    {
        if (string.IsNullOrEmpty(value)) fail(field, "must not be empty");
        if (value.Length > MaxLength) fail(field, $"'{value}' is {value.Length} characters; at most {MaxLength}");
        if (!value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ',' or '+') || value is "." or "..")
            fail(field, $"'{value}' is not a name (letters, digits, '-', '_', '.', ',', '+', as a device-tree node name)");
    }

    /// <summary>Fails naming the second of two items of <paramref name="list"/> (e.g. <c>regions</c>) with the same name.</summary>
    public static void Unique(IReadOnlyList<string> names, string list, string noun, Action<string, string> fail)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
            if (!seen.TryAdd(names[i], i))
                fail($"{list}[{i}].name", $"'{names[i]}' is also the name of {list}[{seen[names[i]]}]; {noun} names must be unique");
    }
}
