using System.Globalization;

namespace AmpCan.SharedMem;

/// <summary>
/// CPU time of one thread of this process, read from <c>/proc/self/task/TID/schedstat</c> (time on a CPU, in
/// nanoseconds): what a loop thread costs per message, measured from outside it.
/// </summary>
public static class ThreadCpuTime
{
    /// <summary>The kernel's id of the calling thread (from <c>/proc/thread-self</c>), or -1 where procfs does not say.</summary>
    public static int CurrentThreadId()
    {
        string? target = new FileInfo("/proc/thread-self").LinkTarget; // "PID/task/TID"
        return target is not null && int.TryParse(Path.GetFileName(target), NumberStyles.None, CultureInfo.InvariantCulture, out int tid) ? tid : -1;
    }

    /// <summary>CPU time thread <paramref name="threadId"/> of this process has used so far; null once it has exited or where procfs does not say.</summary>
    public static TimeSpan? Of(int threadId)
    {
        if (threadId <= 0) return null;
        try
        {
            string line = File.ReadAllText($"/proc/self/task/{threadId.ToString(CultureInfo.InvariantCulture)}/schedstat");
            int end = line.IndexOf(' ');
            return long.TryParse(end < 0 ? line : line[..end], NumberStyles.None, CultureInfo.InvariantCulture, out long ns)
                ? TimeSpan.FromTicks(ns / 100) : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
