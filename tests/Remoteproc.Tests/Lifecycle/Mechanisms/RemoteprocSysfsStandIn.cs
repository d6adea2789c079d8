using System.Collections.Concurrent;

namespace AmpCan.Tests.Remoteproc.Lifecycle.Mechanisms;

/// <summary>
/// A temporary directory laid out as the kernel's /sys/class/remoteproc: each remoteprocN a symbolic link to a device
/// directory holding name, firmware and state, as on a board. A stand-in for the kernel's files only.
/// </summary>
internal sealed class RemoteprocSysfsStandIn : IDisposable
{
    public readonly string Root = Path.Combine(Path.GetTempPath(), $"ampcan-rproc-{Guid.NewGuid():N}");

    public RemoteprocSysfsStandIn() => Directory.CreateDirectory(ClassDirectory);

    /// <summary>The stand-in for /sys/class/remoteproc.</summary>
    public string ClassDirectory => Path.Combine(Root, "class", "remoteproc");

    /// <summary>Adds remoteprocN named <paramref name="name"/> under a device directory, with <paramref name="state"/> and the kernel's default image.</summary>
    public string Add(int index, string name, string state = "offline", string firmware = "rproc-fw")
    {
        string device = Path.Combine(Root, "devices", "platform", $"{name}.rproc", "remoteproc", $"remoteproc{index}");
        Directory.CreateDirectory(device);
        File.WriteAllText(Path.Combine(device, "name"), name + "\n");
        File.WriteAllText(Path.Combine(device, "firmware"), firmware + "\n");
        File.WriteAllText(Path.Combine(device, "state"), state + "\n");
        string entry = Path.Combine(ClassDirectory, $"remoteproc{index}");
        File.CreateSymbolicLink(entry, device);
        return entry;
    }

    public static string Read(string remoteproc, string file) => File.ReadAllText(Path.Combine(remoteproc, file)).Trim();

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>
/// Plays the kernel's side of one remoteproc's state file on a thread: each command written to it ("start", "stop",
/// "detach") is recorded with the firmware name the file held at that moment, and after <c>delay</c> answered by
/// writing the state <c>answer</c> gives. It polls, having no other way to see a write to a plain file; the tests
/// themselves wait on <see cref="Seen"/> and on the mechanism's own blocking calls.
/// </summary>
internal sealed class StandInKernel : IDisposable
{
    private readonly string _remoteproc;
    private readonly Func<string, string> _answer;
    private readonly TimeSpan _delay;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    /// <summary>Commands seen, in order, each with the content of <c>firmware</c> when it was seen.</summary>
    public readonly BlockingCollection<(string Command, string Firmware)> Seen = [];

    public StandInKernel(string remoteproc, Func<string, string> answer, TimeSpan delay)
    {
        _remoteproc = remoteproc;
        _answer = answer;
        _delay = delay;
        _thread = new Thread(Run) { IsBackground = true, Name = "stand-in kernel" };
        _thread.Start();
    }

    /// <summary>Answers start with running, stop with offline, detach with detached, after 50 ms.</summary>
    public static StandInKernel Obliging(string remoteproc) =>
        new(remoteproc, command => command switch { "start" => "running", "stop" => "offline", _ => "detached" }, TimeSpan.FromMilliseconds(50));

    private void Run()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                string state = RemoteprocSysfsStandIn.Read(_remoteproc, "state");
                if (state is "start" or "stop" or "detach")
                {
                    Seen.Add((state, RemoteprocSysfsStandIn.Read(_remoteproc, "firmware")));
                    if (_stop.Token.WaitHandle.WaitOne(_delay)) return;
                    File.WriteAllText(Path.Combine(_remoteproc, "state"), _answer(state) + "\n");
                }
                else if (_stop.Token.WaitHandle.WaitOne(2)) return;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The directory went away under it (the test is over): a stand-in must not end the test run.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
    }
}
