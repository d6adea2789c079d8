using AmpCan.Host.Boards;
using System.Buffers.Binary;
using System.Diagnostics;
using AmpCan.Host.Bench;
using AmpCan.Remoteproc.Boards;
using AmpCan.Rpmsg;
using Microsoft.Extensions.Logging;

namespace AmpCan.Host.Service;

/// <summary>
/// <c>ampcan echo-test</c>: plays the host on a board, waits for an echo channel, sends messages of every size from
/// 1 byte to the MTU in turn and checks each reply byte for byte (as Linux's rpmsg echo_test and OpenAMP's
/// rpmsg-ping do). With <c>--shutdown</c> it ends with OpenAMP's shutdown message (0xEF56A55A), which stops rpmsg-echo.
/// </summary>
public static class EchoTest
{
    /// <summary>OpenAMP's echo demo ends when a message starts with this word.</summary>
    public const uint OpenAmpShutdown = 0xEF56A55A;

    /// <summary>Runs the test; returns 0 when every echo came back intact.</summary>
    /// <remarks><paramref name="channel"/> null means the echo service the board names.</remarks>
    public static int Run(string boardPath, RemoteKind? remote, string? channel, int count, bool shutdown, ILoggerFactory loggers, TextWriter output)
    {
        BoardDescriptor board = BoardDescriptor.Load(boardPath);
        channel ??= board.Remote.Services.Echo
            ?? throw new BoardException($"board '{board.Name}' names no echo service (remote.services.echo); say which channel with --channel");
        using BoardHost host = BoardHost.Start(board, new BoardHostOptions
        {
            Remote = remote, BoardPath = boardPath, AmpcanPath = BoardService.AmpcanExecutable(), Loggers = loggers,
        });
        var found = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Rpmsg.ChannelCreated += c => { if (c.Name == channel) found.TrySetResult(c); };
        foreach (RpmsgChannel c in host.Rpmsg.Channels) if (c.Name == channel) found.TrySetResult(c);
        if (!found.Task.Wait(TimeSpan.FromSeconds(board.Remote.StartTimeoutSeconds)))
        {
            output.WriteLine($"echo-test: the remote announced no channel '{channel}' (it announced: {string.Join(", ", host.Rpmsg.Channels.Select(c => c.Name))})");
            return 2;
        }
        RpmsgChannel ch = found.Task.Result;
        using RpmsgEndpoint ep = host.Rpmsg.CreateEndpoint("echo-test", null, destination: ch.RemoteAddress);
        output.WriteLine($"echo-test: channel '{ch.Name}' at 0x{ch.RemoteAddress:x}, local 0x{ep.Address:x}, MTU {ep.Mtu}");
        byte[] msg = new byte[ep.Mtu];
        long[] samples = new long[count];
        int errors = 0;
        for (int i = 0; i < count; i++)
        {
            int size = 1 + i % ep.Mtu;
            for (int b = 0; b < size; b++) msg[b] = (byte)(i * 31 + b);
            if (size >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(msg) == OpenAmpShutdown) msg[0] ^= 1;
            long t0 = Stopwatch.GetTimestamp();
            ep.Send(msg.AsSpan(0, size));
            // The waiting thread polls the ring itself for a while: a prompt echo costs no hand-off from the loop.
            using RpmsgMessage reply = ep.Receive(TimeSpan.FromSeconds(10));
            samples[i] = Stopwatch.GetTimestamp() - t0;
            if (!reply.Payload.SequenceEqual(msg.AsSpan(0, size)))
            {
                errors++;
                output.WriteLine($"echo-test: message {i} ({size} bytes) came back as {reply.Length} different bytes");
            }
        }
        if (shutdown)
        {
            Span<byte> bye = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(bye, OpenAmpShutdown);
            ep.Send(bye);
        }
        LatencyStats s = LatencyStats.From(samples);
        output.WriteLine($"echo-test: {count} messages of 1..{ep.Mtu} bytes, {errors} errors, round trip median {s.MedianUs:F1} us, p99 {s.P99Us:F1} us");
        return errors == 0 ? 0 : 1;
    }
}
