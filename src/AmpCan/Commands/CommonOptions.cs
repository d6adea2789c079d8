using System.CommandLine;
using System.CommandLine.Parsing;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Commands;

/// <summary>
/// The options several commands share, spelt the same everywhere. None has a default of its own: a value given on the
/// command line wins, else the configuration's (see <see cref="AmpCanConfiguration"/>), else the built-in default.
/// </summary>
internal static class CommonOptions
{
    public static Option<string?> Board(string description = "Board file, or a name under boards/ (sim, openamp-linux); default: configuration AmpCan:Board, else sim") =>
        new("--board", "-b") { Description = description };

    public static Option<RemoteKind?> Remote()
    {
        var o = new Option<RemoteKind?>("--remote") { Description = "Where the remote runs: simulated (a thread), simulated-process, external; default: configuration AmpCan:Remote, else the board's" };
        o.CustomParser = r => ParseEnum<RemoteKind>(r.Tokens[0].Value, "--remote", r);
        o.HelpName = "simulated|simulated-process|external";
        return o;
    }

    public static Option<NotificationMode?> Mode()
    {
        var o = new Option<NotificationMode?>("--mode") { Description = "How the event loop waits: polling, doorbell, adaptive; default: configuration AmpCan:Mode, else the board's" };
        o.CustomParser = r => ParseEnum<NotificationMode>(r.Tokens[0].Value, "--mode", r);
        o.HelpName = "polling|doorbell|adaptive";
        return o;
    }

    /// <summary>Parses a kebab-case enum value from the command line, listing the choices when it is none of them.</summary>
    public static T? ParseEnum<T>(string text, string option, ArgumentResult r) where T : struct, Enum
    {
        if (TryParseEnum(text, out T v)) return v;
        r.AddError($"{option}: '{text}' is not one of {Choices<T>()}");
        return null;
    }

    /// <summary>Parses a kebab-case (or PascalCase) enum name; numbers are refused.</summary>
    public static bool TryParseEnum<T>(string text, out T value) where T : struct, Enum =>
        Enum.TryParse(text.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out value) && !int.TryParse(text, out _);

    /// <summary>The kebab-case names of <typeparamref name="T"/>'s values.</summary>
    public static string Choices<T>() where T : struct, Enum => string.Join(", ", Enum.GetNames<T>().Select(Kebab));

    private static string Kebab(string s) => string.Concat(s.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
