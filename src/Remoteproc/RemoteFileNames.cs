namespace AmpCan.Remoteproc;

/// <summary>
/// One rule for names that come from a board or a firmware and end up in a file or object name (trace files,
/// coredumps, memfds, loop threads): a core of a multi-core board is "board/core", and a firmware names its traces.
/// </summary>
public static class RemoteFileNames
{
    /// <summary>
    /// <paramref name="name"/> with every character other than ASCII letters, digits, '_', '-' and '.' made '_' and a
    /// leading '.' made '_': no separator, no hidden file, no "..". Empty stays empty.
    /// </summary>
    public static string Safe(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string s = string.Create(name.Length, name, static (span, n) =>
        {
            for (int i = 0; i < n.Length; i++) span[i] = char.IsAsciiLetterOrDigit(n[i]) || n[i] is '_' or '-' or '.' ? n[i] : '_';
        });
        return s.Length > 0 && s[0] == '.' ? "_" + s[1..] : s;
    }
}
