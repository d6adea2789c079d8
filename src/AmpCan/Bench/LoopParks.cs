using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Host.Bench;

/// <summary>
/// How often the two loops of a case parked in epoll during its timed window, per buffer or message: 0 in busy-poll,
/// about one per round trip on each side with eventfd kicks. It shows whether a case waited the way its name says.
/// </summary>
internal readonly record struct LoopParks(NotificationLoop First, NotificationLoop Second, long FirstAtStart, long SecondAtStart, double FirstPerItem, double SecondPerItem)
{
    /// <summary>Notes both loops' park counts at the start of the window.</summary>
    public static LoopParks Start(NotificationLoop first, NotificationLoop second) => new(first, second, first.Parks, second.Parks, 0, 0);

    /// <summary>The parks per item over the window that ends now, in which <paramref name="items"/> moved.</summary>
    public LoopParks Stop(long items) =>
        this with { FirstPerItem = (First.Parks - FirstAtStart) / (double)items, SecondPerItem = (Second.Parks - SecondAtStart) / (double)items };

    /// <summary>Adds both figures to <paramref name="report"/> under <paramref name="key"/>.</summary>
    public void AddTo(BenchReport report, string key, string first, string second, string item)
    {
        const string Section = "parks (times each loop parked in epoll per item moved, timed window of the reported run)";
        report.Add(Section, $"{key}.{first}_parks_per_{item}", FirstPerItem, $"{FirstPerItem:F3} ({first} loop)");
        report.Add(Section, $"{key}.{second}_parks_per_{item}", SecondPerItem, $"{SecondPerItem:F3} ({second} loop)");
    }
}
