using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle;
using System.Text.Json;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// Turns System.Text.Json's errors, written for .NET developers ("type 'AmpCan.Remoteproc.Boards.RpmsgSpec'",
/// "nullability annotation"), into a board file's terms: the key, the JSON path and the line. Messages it does not
/// recognise pass through unchanged, so a changed runtime message costs wording, never the path.
/// </summary>
internal static class BoardJsonErrorText
{
    // The enums a board file spells in kebab case, by the type name System.Text.Json puts in its message.
    private static readonly Type[] Enums =
    [
        typeof(SharedMemoryKind), typeof(DoorbellKind), typeof(RemoteKind), typeof(NotificationMode), typeof(CanControllerOwner),
        typeof(RegionRole), typeof(MailboxDirection), typeof(CoreMechanism), typeof(RecoveryPolicy), typeof(CoredumpMode),
    ];

    /// <summary>What is wrong and where, e.g. <c>duplicate key 'size' (at $.sharedMemory.size, line 6)</c>.</summary>
    public static string Describe(JsonException e)
    {
        string path = e.Path ?? "$";
        string key = path[(path.LastIndexOf('.') + 1)..];
        string where = e.LineNumber is long line ? $"at {path}, line {line + 1}" : $"at {path}";
        string message = e.Message.Split(" Path:")[0];
        string what;
        if (message.StartsWith("Duplicate property", StringComparison.Ordinal)) what = $"duplicate key '{key}'";
        else if (message.Contains("doesn't allow setting null values", StringComparison.Ordinal)) what = $"'{key}' must not be null";
        else if (Enums.FirstOrDefault(t => message.EndsWith($"could not be converted to {t.FullName}.", StringComparison.Ordinal)) is Type kind)
            what = $"'{key}' must be one of {string.Join(", ", Enum.GetNames(kind).Select(n => JsonNamingPolicy.KebabCaseLower.ConvertName(n)))}";
        else what = message;
        return $"{what} ({where})";
    }
}
