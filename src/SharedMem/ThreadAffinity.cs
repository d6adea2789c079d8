using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace AmpCan.SharedMem;

/// <summary>Pins the calling thread to one CPU, so a spinning ring owner keeps its cache lines on one core.</summary>
public static unsafe class ThreadAffinity
{
    /// <summary>Pins the calling thread to <paramref name="cpu"/>; false if the CPU does not exist or the call is refused.</summary>
    public static bool Pin(int cpu)
    {
        if (cpu < 0 || cpu >= 1024) return false;
        cpu_set_t set = default;
        ((ulong*)&set)[cpu / 64] |= 1UL << (cpu % 64);
        return sched_setaffinity(0, (size_t)sizeof(cpu_set_t), &set) == 0;
    }

    /// <summary>
    /// Pins every thread of this process (each task of /proc/self/task; threads made later inherit their maker's) to
    /// <paramref name="cpu"/>: a benchmark's "everything on one CPU". Returns how many threads took it.
    /// </summary>
    public static int PinProcess(int cpu)
    {
        if (cpu < 0 || cpu >= 1024) return 0;
        cpu_set_t set = default;
        ((ulong*)&set)[cpu / 64] |= 1UL << (cpu % 64);
        return SetForEveryThread(set);
    }

    /// <summary>Lets every thread of this process run on every CPU again.</summary>
    public static void UnpinProcess()
    {
        cpu_set_t set = default;
        int n = Math.Min(Environment.ProcessorCount, sizeof(cpu_set_t) * 8);
        for (int cpu = 0; cpu < n; cpu++) ((ulong*)&set)[cpu / 64] |= 1UL << (cpu % 64);
        SetForEveryThread(set);
    }

    private static int SetForEveryThread(cpu_set_t set)
    {
        int done = 0;
        foreach (string task in System.IO.Directory.EnumerateDirectories("/proc/self/task"))
            if (int.TryParse(System.IO.Path.GetFileName(task), out int tid) && sched_setaffinity(tid, (size_t)sizeof(cpu_set_t), &set) == 0) done++;
        return done;
    }

    /// <summary>Lets the calling thread run on every CPU again.</summary>
    public static void Unpin()
    {
        cpu_set_t set = default;
        int n = Math.Min(Environment.ProcessorCount, sizeof(cpu_set_t) * 8);
        for (int cpu = 0; cpu < n; cpu++) ((ulong*)&set)[cpu / 64] |= 1UL << (cpu % 64);
        sched_setaffinity(0, (size_t)sizeof(cpu_set_t), &set);
    }
}
