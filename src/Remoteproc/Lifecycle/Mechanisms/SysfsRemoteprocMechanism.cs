using System.Diagnostics;
using System.Text;
using AmpCan.Remoteproc.Boards;
using Microsoft.Win32.SafeHandles;

namespace AmpCan.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// The kernel's remoteproc loads and starts the core (mechanism sysfs-remoteproc): the image's name goes to
/// <c>firmware</c>, then <c>start</c>, <c>stop</c> or <c>detach</c> to <c>state</c>, and <c>state</c> is read until it
/// shows the result (offline, running, crashed, attached, detached, as remoteproc_sysfs.c names them).
/// </summary>
/// <remarks>
/// The kernel carries out a state write before the write returns (rproc_boot, rproc_shutdown and rproc_detach are
/// synchronous) and fails the write when it cannot; the bounded wait afterwards costs one read on a real kernel and
/// covers a driver that finishes later. The board's firmware directory must be one the kernel searches
/// (<see cref="KernelFirmwareSearchPath"/>): the kernel is given a name, never a path of ours.
/// </remarks>
public sealed class SysfsRemoteprocMechanism : ICoreMechanism
{
    // Polling back-off: the first re-read at once, then 1 ms doubling up to 50 ms, so a real kernel's immediate answer
    // costs nothing and a slow driver costs at most 20 reads a second.
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(1), LongestPause = TimeSpan.FromMilliseconds(50);

    private readonly string _directory;
    private readonly FirmwareSpec? _firmware;
    private readonly IReadOnlyList<string> _searchPath;
    private readonly TimeSpan _timeout;

    /// <summary>
    /// The remoteproc <paramref name="remoteproc"/> ("remoteprocN" or the rproc's name) with the board's firmware
    /// directory and default image (null: none named, the kernel keeps the image it has).
    /// </summary>
    /// <exception cref="CoreMechanismException">No such remoteproc (the message lists those found), or the kernel does not search the firmware directory.</exception>
    public SysfsRemoteprocMechanism(string remoteproc, FirmwareSpec? firmware, SysfsRemoteprocOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(remoteproc);
        options ??= new SysfsRemoteprocOptions();
        if (options.StateTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "the state timeout must be positive");
        (_directory, RprocName) = SysfsRemoteprocLookup.Find(remoteproc, options.ClassDirectory);
        _firmware = firmware;
        _searchPath = options.FirmwareSearchPath ?? KernelFirmwareSearchPath.Read();
        _timeout = options.StateTimeout;
        Description = $"sysfs-remoteproc {Path.GetFileName(_directory)} ({RprocName})";
        if (firmware is not null) KernelFirmwareSearchPath.NameFor(firmware.Directory, firmware.Image, _searchPath); // refuse a directory the kernel does not search now, not at the first start
    }

    /// <inheritdoc/>
    public string Description { get; }

    /// <summary>The remoteproc's directory (under the class directory).</summary>
    public string Directory => _directory;

    /// <summary>The rproc's name, as its <c>name</c> file gives it.</summary>
    public string RprocName { get; }

    /// <inheritdoc/>
    public bool CanStart => true;

    /// <inheritdoc/>
    public bool LoadsImage => true;

    /// <summary>The kernel's state word as <c>state</c> shows it now.</summary>
    public string ReadState() => Read("state");

    /// <inheritdoc/>
    /// <remarks>Detached counts as running (the core runs, unserved); suspended, invalid and anything newer as unknown.</remarks>
    public CoreRunState Probe() => ReadState() switch
    {
        "offline" => CoreRunState.Offline,
        "running" or "attached" or "detached" => CoreRunState.Running,
        "crashed" => CoreRunState.Crashed,
        _ => CoreRunState.Unknown,
    };

    /// <inheritdoc/>
    /// <remarks>The kernel loads the image only when started: the core is offline and its memory the kernel's until then.</remarks>
    public void Hold() { }

    /// <inheritdoc/>
    /// <remarks>
    /// Only from offline: a core that runs (attached, or started by the kernel at probe) is to be attached to, which
    /// <see cref="Probe"/> tells the host; writing start to a detached core would make the kernel attach, not boot.
    /// </remarks>
    public void Start(string? image, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        string state = ReadState();
        switch (state)
        {
            case "offline":
                break;
            case "running" or "attached" or "detached":
                throw new CoreMechanismException($"{Description}: cannot boot it: it runs already (state '{state}'); attach to it instead, or stop it first");
            case "crashed":
                throw new CoreMechanismException($"{Description}: cannot boot it: it crashed, and the kernel restarts a crashed core only itself: " +
                    $"at once when its recovery is enabled, else when 'recover' is written to {PathOf("recovery")}");
            default:
                throw new CoreMechanismException($"{Description}: cannot boot it from state '{state}' (only from 'offline')");
        }
        string? name = ImageName(image);
        if (name is not null)
            Write("firmware", name, "the kernel takes a new image only while the core is offline");
        Write("state", "start", name is null
            ? "the kernel could not boot it; the kernel log (dmesg) says why"
            : $"the kernel could not boot it: is '{name}' in its firmware search path ({string.Join(", ", _searchPath)})? The kernel log (dmesg) says why");
        WaitFor("running", "start", cancellation);
    }

    /// <inheritdoc/>
    /// <remarks>The kernel stops a running or attached core; it cannot stop a detached or crashed one, and this says what can.</remarks>
    public void Stop()
    {
        string state = ReadState();
        switch (state)
        {
            case "offline":
                return;
            case "running" or "attached":
                Write("state", "stop", state == "attached"
                    ? "the rproc's driver may not stop a core it attached to (it says 'use detach' in the kernel log)"
                    : "the kernel log (dmesg) says why");
                WaitFor("offline", "stop", CancellationToken.None);
                return;
            case "detached":
                throw new CoreMechanismException($"{Description}: the kernel cannot stop a core it detached from: write 'start' to {PathOf("state")} (the kernel attaches), then 'stop'");
            case "crashed":
                throw new CoreMechanismException($"{Description}: the kernel cannot stop a crashed core: let its recovery restart it (when recovery is disabled, " +
                    $"write 'recover' to {PathOf("recovery")}), then stop it");
            default:
                throw new CoreMechanismException($"{Description}: cannot stop it from state '{state}'");
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Linux detaches only from a core it attached to (state attached, kernel 5.11 or later, a driver with a detach
    /// operation): that one is told to detach. A core the kernel booted (running) cannot be detached by the kernel, and
    /// need not be: it runs on for as long as nobody writes stop, so it is left as it is.
    /// </remarks>
    public void Detach()
    {
        string state = ReadState();
        switch (state)
        {
            case "running" or "detached":
                return;
            case "attached":
                Write("state", "detach", "the rproc's driver may not support detach (it needs kernel 5.11 or later and a driver with a detach operation); " +
                    "the kernel log (dmesg) says why");
                WaitFor("detached", "detach", CancellationToken.None);
                return;
            default:
                throw new CoreMechanismException($"{Description}: cannot detach from it: it is '{state}', not running");
        }
    }

    private string? ImageName(string? image)
    {
        if (_firmware is null)
        {
            if (image is null) return null; // the kernel boots the image it has (the device tree's firmware-name, or the last one written)
            throw new CoreMechanismException($"{Description}: cannot boot '{image}': the board names no firmware directory (core.firmware), so the image's place in the kernel's search path is unknown");
        }
        return KernelFirmwareSearchPath.NameFor(_firmware.Directory, image ?? _firmware.Image, _searchPath);
    }

    private void WaitFor(string wanted, string command, CancellationToken cancellation)
    {
        long began = Stopwatch.GetTimestamp();
        TimeSpan pause = TimeSpan.Zero;
        while (true)
        {
            string state = ReadState();
            if (state == wanted) return;
            TimeSpan left = _timeout - Stopwatch.GetElapsedTime(began);
            if (left <= TimeSpan.Zero)
                throw new CoreMechanismException($"{Description}: after '{command}' was written to {PathOf("state")}, it stayed '{state}' for {_timeout.TotalSeconds:0.###} s " +
                    $"instead of becoming '{wanted}'; the kernel log (dmesg) may say why");
            if (pause > TimeSpan.Zero && cancellation.WaitHandle.WaitOne(pause < left ? pause : left)) cancellation.ThrowIfCancellationRequested();
            pause = pause == TimeSpan.Zero ? FirstPause : pause * 2 < LongestPause ? pause * 2 : LongestPause;
        }
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    private string Read(string name)
    {
        string path = PathOf(name);
        try { return File.ReadAllText(path).Trim(); }
        catch (UnauthorizedAccessException e)
        {
            throw new CoreMechanismException($"{Description}: cannot read {path}: {Reason(e)}; run AmpCan as root, or give its user read access", e);
        }
        catch (IOException e)
        {
            throw new CoreMechanismException($"{Description}: cannot read {path}: {Reason(e)} (was the rproc's driver unbound?)", e);
        }
    }

    // One write(2) of the whole word at offset 0, as `echo start > state` makes: sysfs takes a store in one call. The
    // file is opened without O_CREAT, so a missing attribute is an error, never a new file.
    private void Write(string name, string text, string why)
    {
        string path = PathOf(name);
        try
        {
            using SafeFileHandle file = File.OpenHandle(path, FileMode.Truncate, FileAccess.Write);
            RandomAccess.Write(file, Encoding.ASCII.GetBytes(text), 0);
        }
        catch (UnauthorizedAccessException e)
        {
            // Root is refused too where the kernel gives the file no store operation (a driver that sets sysfs_read_only).
            throw new CoreMechanismException($"{Description}: cannot write '{text}' to {path}: {Reason(e)}; " + (Environment.IsPrivilegedProcess
                ? "the kernel refuses it even to root: the rproc's driver makes its files read-only (it does not let user space control this core)"
                : "run AmpCan as root, or give its user write access to the file (e.g. with a udev rule)"), e);
        }
        catch (IOException e)
        {
            throw new CoreMechanismException($"{Description}: writing '{text}' to {path} failed: {Reason(e)}; {why}", e);
        }
    }

    // The error without the path .NET appends (the message names it already). A write the kernel fails with ENOENT
    // (no such firmware) surfaces as FileNotFoundException, hence the errno's own words for it.
    private static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        _ when e.Message.IndexOf(" : '", StringComparison.Ordinal) is > 0 and int at => e.Message[..at],
        _ => e.Message,
    };
}
