namespace AmpCan.Tests;

/// <summary>
/// A guest bench's prepare.sh (tests/virtio-vm, tests/arm-vm), run once per test process: its KEY=VALUE lines, or why no
/// guest can boot here (exit 3: its one line), or how it failed. Linked beside KernelVmHarness.cs, whose Run it uses.
/// </summary>
internal sealed class GuestPreparation(string scriptDirectory, string guestName, TimeSpan limit)
{
    private sealed record Outcome(IReadOnlyDictionary<string, string> Facts, string? Unavailable, string? Failure);

    private readonly Lazy<Outcome> _outcome = new(() => Prepare(scriptDirectory, limit));

    /// <summary>Null when guests can boot here; otherwise why not, in prepare.sh's words (no root, no mirror, ...).</summary>
    public string? SkipReason => _outcome.Value.Unavailable;

    /// <summary>prepare.sh's KEY=VALUE lines.</summary>
    public IReadOnlyDictionary<string, string> Facts => _outcome.Value.Facts;

    /// <summary>
    /// Ignores the calling fixture or test, with the reason, when no guest can boot here; fails it when prepare.sh
    /// failed for another reason (a build broke). Call it from OneTimeSetUp: the first call may take minutes.
    /// </summary>
    public void RequireGuest(string what)
    {
        Outcome o = _outcome.Value;
        string script = $"tests/{Path.GetFileName(scriptDirectory)}/prepare.sh";
        if (o.Unavailable is not null) Assert.Ignore($"{what}: no {guestName} can boot here ({script}): {o.Unavailable}");
        if (o.Failure is not null) Assert.Fail($"preparing the {guestName} ({script}) failed: {o.Failure}");
    }

    private static Outcome Prepare(string scriptDirectory, TimeSpan limit)
    {
        var (code, stdout, stderr) = KernelVmHarness.Run("bash", [Path.Combine(scriptDirectory, "prepare.sh")], limit);
        string said = stdout.Trim();
        return code switch
        {
            0 => new(said.Split('\n').Select(l => l.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1].Trim()), null, null),
            3 => new(new Dictionary<string, string>(), said, null),
            _ => new(new Dictionary<string, string>(), null, $"exit {code}: {said}\n{stderr.Trim()}"),
        };
    }
}
