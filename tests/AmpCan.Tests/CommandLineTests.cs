using AmpCan.Host;

namespace AmpCan.Tests.Host;

public class CommandLineTests
{
    private static (int Code, string Error) Run(params string[] args)
    {
        TextWriter err = Console.Error, outw = Console.Out;
        var e = new StringWriter();
        Console.SetError(e);
        Console.SetOut(new StringWriter());
        try { return (Program.Main(args), e.ToString()); }
        finally
        {
            Console.SetError(err);
            Console.SetOut(outw);
        }
    }

    [Test]
    public void UnknownBoardIsNamed()
    {
        var (code, err) = Run("--board", "no-such-board");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(err, Does.Contain("no-such-board").And.Contain("not found"));
    }

    [Test]
    public void BadEnumValueListsTheChoices()
    {
        var (code, err) = Run("--remote", "quantum");
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain("'quantum'").And.Contain("simulated-process"));
    }

    [Test]
    public void UnknownOptionIsRefused()
    {
        var (code, err) = Run("bench", "vring", "--colour");
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain("--colour"));
    }

    [Test]
    public void MalformedBoardFileIsReportedWithTheField()
    {
        string f = Path.Combine(Path.GetTempPath(), $"bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(f, """{ "name": "x", "sharedMemory": { "kind": "memfd", "size": "lots" }, "rpmsg": { "bufferPoolOffset": 0 }, "doorbell": { "kind": "event-fd" } }""");
        try
        {
            var (code, err) = Run("remote-sim", "--board", f);
            Assert.That(code, Is.EqualTo(1));
            Assert.That(err, Does.Contain("'lots' is not a number").And.Contain(f));
        }
        finally { File.Delete(f); }
    }
}
