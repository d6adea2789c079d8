namespace AmpCan.Tests.ArmProbe;

/// <summary>The lines the host test parses: "PASS NAME detail", "FAIL NAME detail", "INFO detail".</summary>
internal static class Report
{
    public static void Pass(string name, string detail) => Console.WriteLine($"PASS {name} {detail}");

    public static int Fail(string name, string detail)
    {
        Console.WriteLine($"FAIL {name} {detail}");
        return 1;
    }

    public static void Info(string detail) => Console.WriteLine($"INFO {detail}");
}
