using System.CommandLine;
using AmpCan.Host.Service;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Commands;

/// <summary><c>ampcan echo-test</c>: play the host on a board and check an echo channel with every message size.</summary>
internal static class EchoTestCommand
{
    public static Command Create()
    {
        Option<string?> board = CommonOptions.Board();
        var remote = CommonOptions.Remote();
        var channel = new Option<string?>("--channel") { Description = "Name of the echo channel the remote announces (default: the board's remote.services.echo)" };
        var count = new Option<int>("--count", "-n") { Description = "Messages to send", DefaultValueFactory = _ => 496 };
        var shutdown = new Option<bool>("--shutdown") { Description = "End with OpenAMP's shutdown message (stops OpenAMP's rpmsg-echo)" };
        var command = new Command("echo-test", "Play the host on a board and check an echo channel with every message size") { board, remote, channel, count, shutdown };
        command.SetAction(r =>
        {
            if (r.GetValue(count) < 1)
            {
                Console.Error.WriteLine("ampcan: --count must be at least 1");
                return 1;
            }
            AmpCanOptions o = AmpCanConfiguration.Resolve(AmpCanConfiguration.Load(), r.GetValue(board), r.GetValue(remote), null);
            using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(c => { c.SingleLine = true; c.TimestampFormat = "HH:mm:ss.fff "; }).SetMinimumLevel(LogLevel.Warning));
            return EchoTest.Run(BoardFiles.Resolve(o.Board), o.Remote, r.GetValue(channel), r.GetValue(count), r.GetValue(shutdown), loggers, Console.Out);
        });
        return command;
    }
}
