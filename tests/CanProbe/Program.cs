using System.Collections.Concurrent;
using System.Diagnostics;
using AmpCan.Tests.CanProbe;
using AmpCan.VirtioCan;
using AmpCan.VirtioCan.Bus;
using AmpCan.VirtioCan.SocketCan;
using static AmpCan.Tests.CanProbe.GuestShell;

// Guest side of the SocketCAN kernel-VM tests (AmpCan.Tests' SocketCanGuestTests): SocketCanPort on the guest kernel's
// vcan0/vcan1 (up at boot) and a vcan9 created here, against can-utils and ip. Arguments: the checks to run (default all).
// One line per check:
// "RESULT <name> pass|fail <detail>"; the port's log lines go to stderr. Exit code 0 unless the probe itself broke.
var log = new ProbeLog();
var checks = new (string Name, Func<ProbeLog, string> Run)[]
{
    ("tx-candump", Checks.SentFramesAppearInCandump),
    ("rx-cansend", Checks.CansendFramesReachThePort),
    ("echo-under-load", Checks.EveryEchoComesBackOnceInOrderUnderAFlood),
    ("echo-lost", Checks.EchoesTheKernelDropsAreRestoredOrGivenUp),
    ("error-frame", Checks.ErrorFramesArriveWithTheirClass),
    ("busoff-frame", Checks.ABusOffAPortSendsArrivesAsBusOff),
    ("busoff-bridge", Checks.ABridgeCarriesABusOffOntoTheVcanOnly),
    ("down-up", Checks.DownIsSaidAndUpServesAgain),
    ("missing-appears", Checks.AMissingInterfaceIsServedOnceCreated),
    ("two-ports", Checks.TwoInterfacesAtOnceKeepTheirFramesApart),
    ("filters", Checks.FiltersLetOnlyTheirFramesThrough),
};
foreach (var (name, run) in checks)
{
    if (args.Length > 0 && !args.Contains(name)) continue; // by hand: run only the checks named
    var clock = Stopwatch.StartNew();
    string outcome;
    try
    {
        outcome = "pass " + run(log);
    }
    catch (Exception e)
    {
        outcome = $"fail {e.GetType().Name}: {e.Message}".ReplaceLineEndings(" | ");
    }
    Console.WriteLine($"RESULT {name} {outcome} ({clock.Elapsed.TotalSeconds:F1} s)");
}
return 0;

namespace AmpCan.Tests.CanProbe
{
    /// <summary>The checks, each on ports of its own, each bounded in time.</summary>
    internal static class Checks
    {
        private static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

        private static CanFrame Frame(uint id, CanFrameKind kind, params byte[] data)
        {
            var f = new CanFrame { Id = id, Kind = kind, Length = (byte)data.Length };
            data.CopyTo(f.Payload);
            return f;
        }

        private static byte[] Counting(int n) => Enumerable.Range(0, n).Select(i => (byte)i).ToArray();

        private static string Describe(in CanFrame f) =>
            $"{f.Id:X}/{f.Kind}/{f.Length}/{Convert.ToHexString(((ReadOnlySpan<byte>)f.Data)[..(f.IsRemote ? 0 : f.Length)])}";

        private static void Expect(bool condition, string what)
        {
            if (!condition) throw new InvalidOperationException(what);
        }

        private static void ExpectSame(in CanFrame got, in CanFrame want, string what)
        {
            if (!got.SameOnWire(want)) throw new InvalidOperationException($"{what}: got {Describe(got)}, want {Describe(want)}");
        }

        /// <summary>candump -L of the interface, its lines collected; ready once it has printed a marker the port sent.</summary>
        private sealed class Candump : IDisposable
        {
            private readonly Process _process;
            private readonly BlockingCollection<string> _lines = [];

            public Candump(string iface, SocketCanPort sender)
            {
                _process = Start("candump", ["-L", iface], redirect: true);
                _process.OutputDataReceived += (_, e) => { if (e.Data is { } l) _lines.Add(l); };
                _process.BeginOutputReadLine();
                // Until candump has bound its socket it hears nothing: send a marker until one is heard.
                var marker = Frame(0x7FE, CanFrameKind.None, 0xA5);
                DateTime deadline = DateTime.UtcNow + Soon;
                while (true)
                {
                    Expect(sender.Send(marker) == CanSendResult.Sent, "marker not sent");
                    if (_lines.TryTake(out string? line, 300) && line.EndsWith(" 7FE#A5", StringComparison.Ordinal)) break;
                    Expect(DateTime.UtcNow < deadline, "candump never heard the marker");
                }
                while (_lines.TryTake(out _, 300)) { } // the markers sent while it was starting
            }

            /// <summary>The frame part ("123#DEADBEEF") of the next line.</summary>
            public string Next()
            {
                if (!_lines.TryTake(out string? line, Soon)) throw new TimeoutException("candump printed nothing more");
                string[] w = line.Split(' ');
                return w.Length == 3 ? w[2] : line;
            }

            public void Dispose()
            {
                GuestShell.Stop(_process);
                _process.Dispose();
            }
        }

        public static string SentFramesAppearInCandump(ProbeLog log)
        {
            using var port = new SocketCanPort("vcan0", null, log.For("tx"));
            using var dump = new Candump("vcan0", port);
            (CanFrame Frame, string Line)[] cases =
            [
                (Frame(0x123, CanFrameKind.None, 0xDE, 0xAD, 0xBE, 0xEF), "123#DEADBEEF"),
                (Frame(0x12345678, CanFrameKind.Extended, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77), "12345678#11223344556677"),
                (Frame(0x000, CanFrameKind.None), "000#"),
                (new CanFrame { Id = 0x7FF, Kind = CanFrameKind.Remote }, "7FF#R"),
                (new CanFrame { Id = 0x1ABCDEF0, Kind = CanFrameKind.Extended | CanFrameKind.Remote, Length = 3 }, "1ABCDEF0#R3"),
                // FD: candump prints canfd_frame.flags as one hex digit: CANFD_FDF (4) | CANFD_BRS (1) = 5, FDF | CANFD_ESI (2) = 6.
                (Frame(0x1AB, CanFrameKind.Fd | CanFrameKind.BitRateSwitch, Counting(64)), "1AB##5" + Convert.ToHexString(Counting(64))),
                (Frame(0x1FFFFFFF, CanFrameKind.Fd | CanFrameKind.Extended | CanFrameKind.ErrorStateIndicator, Counting(12)), "1FFFFFFF##6" + Convert.ToHexString(Counting(12))),
            ];
            foreach (var (frame, _) in cases) Expect(port.Send(frame) == CanSendResult.Sent, $"Send {Describe(frame)}");
            foreach (var (frame, line) in cases)
            {
                string got = dump.Next();
                Expect(got == line, $"candump printed {got} for {Describe(frame)}, want {line}");
            }
            return $"{cases.Length} frames as candump -L prints them";
        }

        public static string CansendFramesReachThePort(ProbeLog log)
        {
            using var port = new SocketCanPort("vcan0", null, log.For("rx"));
            var reader = new PortReader(port);
            (string Arg, CanFrame Want)[] cases =
            [
                ("123#DEADBEEF", Frame(0x123, CanFrameKind.None, 0xDE, 0xAD, 0xBE, 0xEF)),
                ("1F334455#1122334455667788", Frame(0x1F334455, CanFrameKind.Extended, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88)),
                ("321#R", new CanFrame { Id = 0x321, Kind = CanFrameKind.Remote }),
                ("00000123#R3", new CanFrame { Id = 0x123, Kind = CanFrameKind.Extended | CanFrameKind.Remote, Length = 3 }),
                ("213##311223344", Frame(0x213, CanFrameKind.Fd | CanFrameKind.BitRateSwitch | CanFrameKind.ErrorStateIndicator, 0x11, 0x22, 0x33, 0x44)),
                ("1AB##1" + Convert.ToHexString(Counting(64)), Frame(0x1AB, CanFrameKind.Fd | CanFrameKind.BitRateSwitch, Counting(64))),
            ];
            foreach (var (arg, want) in cases)
            {
                Run("cansend", "vcan0", arg);
                ExpectSame(reader.Next(Soon, what: $"cansend {arg}"), want, $"cansend vcan0 {arg}");
            }
            Expect(!port.TryReceive(out CanFrame extra), $"one more frame than was sent: {Describe(extra)}");
            return $"{cases.Length} cansend frames, FD and RTR among them";
        }

        public static string EveryEchoComesBackOnceInOrderUnderAFlood(ProbeLog log)
        {
            const int Total = 10_000, FloodId = 0x555;
            using var port = new SocketCanPort("vcan0", null, log.For("echo")) { ConfirmsTransmits = true };
            var reader = new PortReader(port);
            // Another member floods the bus: cangen as fast as it can (-g 0), polling on ENOBUFS rather than failing.
            Process flood = Start("cangen", ["vcan0", "-g", "0", "-I", FloodId.ToString("X"), "-L", "8", "-D", "i", "-p", "10"], redirect: false);
            try
            {
                reader.Next(Soon, f => f.Id == FloodId && !f.IsEcho, "the flood");
                var frames = new CanFrame[Total];
                for (int i = 0; i < Total; i++)
                {
                    byte[] seq = BitConverter.GetBytes(i);
                    frames[i] = (i % 4) switch
                    {
                        0 => Frame((uint)i & 0x7FF, CanFrameKind.None, [.. seq, 1, 2, 3, 4]),
                        1 => Frame(0x10000000u | (uint)i, CanFrameKind.Extended, seq),
                        2 => Frame(0x600u | ((uint)i & 0xFF), CanFrameKind.Fd | CanFrameKind.BitRateSwitch, [.. seq, .. Counting(60)]),
                        _ => new CanFrame { Id = 0x700u | ((uint)i & 0xFF), Kind = CanFrameKind.Remote, Length = (byte)(i % 9) },
                    };
                }
                int sent = 0, confirmed = 0, busy = 0;
                long floodSeen = 0, threadBytes = 0, totalBytes = 0;
                bool measuring = false;
                const int Warm = 200; // allocation is measured after the first frames (first calls, lazy statics)
                var sinceEcho = Stopwatch.StartNew();
                while (confirmed < Total)
                {
                    // Bounded however the frames come: the flood alone must not keep a broken echo path looping.
                    if (sinceEcho.Elapsed > Soon)
                        throw new TimeoutException($"no echo for {Soon.TotalSeconds} s at {confirmed} of {sent} sent (port dropped {port.Dropped}, kernel {port.KernelDropped}, echoes lost {port.EchoesLost})");
                    if (confirmed >= Warm && !measuring)
                    {
                        measuring = true;
                        threadBytes = -GC.GetAllocatedBytesForCurrentThread();
                        totalBytes = -GC.GetTotalAllocatedBytes(precise: true);
                    }
                    bool progressed = false;
                    while (sent < Total && sent - confirmed < port.MaxUnconfirmed)
                    {
                        CanSendResult r = port.Send(frames[sent]);
                        if (r == CanSendResult.Busy)
                        {
                            busy++;
                            break;
                        }
                        if (r != CanSendResult.Sent) throw new InvalidOperationException($"frame {sent}: {r}"); // no message built per frame: it would be counted
                        sent++;
                        progressed = true;
                    }
                    while (port.TryReceive(out CanFrame f))
                    {
                        if (!f.IsEcho)
                        {
                            if (f.Id == FloodId) floodSeen++;
                            continue;
                        }
                        if (confirmed >= sent || !f.SameOnWire(frames[confirmed]))
                            throw new InvalidOperationException($"echo {confirmed} (of {sent} sent) is {Describe(f)}, want {(confirmed < sent ? Describe(frames[confirmed]) : "none")}");
                        confirmed++;
                        progressed = true;
                        sinceEcho.Restart();
                    }
                    if (!progressed)
                    {
                        // The probe's own blocking wait may allocate the first time it really blocks (a wait handle),
                        // which can fall after the warm-up under load (seen once in CI): it is not sending or taking.
                        long before = GC.GetAllocatedBytesForCurrentThread();
                        reader.Wait(Soon);
                        if (measuring) threadBytes -= GC.GetAllocatedBytesForCurrentThread() - before;
                    }
                }
                threadBytes += GC.GetAllocatedBytesForCurrentThread();
                totalBytes += GC.GetTotalAllocatedBytes(precise: true);
                // A last frame: any echo before its own is one too many.
                var last = Frame(0x7AB, CanFrameKind.None, 0xEE);
                Expect(port.Send(last) == CanSendResult.Sent, "the last frame was not sent");
                CanFrame after = reader.Next(Soon, f => f.IsEcho, "the last echo");
                ExpectSame(after, last, "an echo after all 10,000");
                Expect(port.EchoesLost == 0, $"{port.EchoesLost} echoes found the queue full");
                Expect(floodSeen > 0, "no flood frame arrived while the echoes did");
                // Zero per frame: one object per frame would be at least 24 B x 9,800. A single small allocation once in
                // the run (56 B, seen in CI on a fast run and not yet traced to its source) is tolerated, and reported.
                Expect(threadBytes < 256, $"sending and taking allocated {threadBytes} bytes on the taker's thread over {Total - Warm} frames ({totalBytes} in all)");
                Expect(totalBytes < 64 * 1024, $"the process allocated {totalBytes} bytes over {Total - Warm} frames and their echoes");
                return $"{Total} echoes in order, none lost or repeated; {floodSeen} flood frames taken, {port.Dropped} dropped (kernel {port.KernelDropped}; echoes restored {port.EchoesRestored}), "
                       + $"{busy} busy answers, receive buffer {port.ReceiveBufferSize} B; allocated {threadBytes} B on the taker, {totalBytes} B in all";
            }
            finally
            {
                GuestShell.Stop(flood);
            }
        }

        public static string EchoesTheKernelDropsAreRestoredOrGivenUp(ProbeLog log)
        {
            // The kernel's smallest receive buffer (a couple of frames) and a reader held inside FrameArrived, as a
            // descheduled one would be: what the peer sends next fills the socket, and our echoes find it full.
            var options = new SocketCanPortOptions { ReceiveBufferBytes = 1, EchoRoom = 4, EchoLossTimeout = TimeSpan.FromSeconds(1) };
            using var port = new SocketCanPort("vcan0", options, log.For("lost")) { ConfirmsTransmits = true };
            using var peer = new SocketCanPort("vcan0", null, log.For("lost-peer"));
            using var held = new ManualResetEventSlim();
            using var release = new ManualResetEventSlim();

            void HoldTheReader()
            {
                held.Reset();
                release.Reset();
                port.FrameArrived = () =>
                {
                    held.Set();
                    release.Wait();
                };
                Expect(peer.Send(Frame(0x001, CanFrameKind.None, 1)) == CanSendResult.Sent, "peer send");
                Expect(held.Wait(Soon), "the reader never called FrameArrived");
                for (int i = 0; i < 16; i++) Expect(peer.Send(Frame(0x002, CanFrameKind.None, (byte)i)) == CanSendResult.Sent, "peer send");
            }

            // Once released, the reader has the held frames to read first: our next echo would find the buffer as
            // full as the dropped ones did. A peer's marker heard means the socket is drained (a marker dropped too is sent again).
            void AwaitDrained(PortReader reader)
            {
                DateTime deadline = DateTime.UtcNow + Soon;
                for (byte n = 0; !reader.TryNext(TimeSpan.FromMilliseconds(300), f => f.Id == 0x003 && f.Payload[0] == n, out _); n++)
                {
                    Expect(DateTime.UtcNow < deadline, "the held frames were never drained");
                    Expect(peer.Send(Frame(0x003, CanFrameKind.None, (byte)(n + 1))) == CanSendResult.Sent, "marker");
                }
            }

            HoldTheReader();
            var a = Frame(0x0A1, CanFrameKind.None, 0xA1);
            var b = Frame(0x0B1, CanFrameKind.Extended, 0xB1);
            var c = Frame(0x0C1, CanFrameKind.None, 0xC1);
            Expect(port.Send(a) == CanSendResult.Sent && port.Send(b) == CanSendResult.Sent, "our frames while the reader is held");
            var reader = new PortReader(port); // FrameArrived wakes this reader again
            release.Set();
            AwaitDrained(reader);
            Expect(port.Send(c) == CanSendResult.Sent, "the frame after");
            foreach (CanFrame want in new[] { a, b, c })
                ExpectSame(reader.Next(Soon, f => f.IsEcho, "an echo"), want, "echoes after the loss");
            Expect(port.EchoesRestored == 2, $"{port.EchoesRestored} echoes restored, want the 2 the kernel dropped (it dropped {port.KernelDropped} frames)");
            string restored = $"2 echoes dropped by the kernel ({port.KernelDropped} frames in all) restored ahead of the one that vouched for them";

            // Now the last ones are lost: nothing comes after them to vouch. The port answers Busy with all four awaited,
            // gives them up after the timeout (the socket's own drop count shows frames were lost), then serves again.
            reader.Clear();
            HoldTheReader();
            for (uint i = 0; i < 4; i++) Expect(port.Send(Frame(0x0D0 + i, CanFrameKind.None, (byte)i)) == CanSendResult.Sent, "our frames while the reader is held");
            Expect(port.Send(Frame(0x0DF, CanFrameKind.None)) == CanSendResult.Busy, "a fifth frame with four awaiting their echo was not answered Busy");
            reader = new PortReader(port);
            release.Set();
            WaitUntil(() => port.EchoesLost == 4, Soon, $"the port giving the four up (lost {port.EchoesLost})");
            Expect(log.Has("lost", "given up"), "the port did not log the frames it gave up");
            AwaitDrained(reader);
            var e = Frame(0x0E1, CanFrameKind.None, 0xE1);
            Expect(port.Send(e) == CanSendResult.Sent, "a frame after the four were given up");
            ExpectSame(reader.Next(Soon, f => f.IsEcho, "the next echo"), e, "the next echo (none of the four given up)");
            return $"{restored}; 4 lost with nothing after them answered Busy, given up after {options.EchoLossTimeout.TotalSeconds} s, then served again";
        }

        public static string ErrorFramesArriveWithTheirClass(ProbeLog log)
        {
            using var port = new SocketCanPort("vcan0", null, log.For("err"));
            var reader = new PortReader(port);
            // vcan has no controller to report errors, but a raw socket may write an error frame (can_id with
            // CAN_ERR_FLAG) and the kernel hands it to the sockets whose CAN_RAW_ERR_FILTER takes its class. A protocol
            // error first: not among the port's classes, it must not arrive.
            Run("cansend", "vcan0", "20000008#0000041900000000");
            Run("cansend", "vcan0", "20000040#0000000000000000");
            CanFrame busOff = reader.Next(Soon, what: "the bus-off error frame");
            Expect(CanErrorFrame.TryRead(busOff, out CanErrorFrame e) && e.Classes == CanErrorClasses.BusOff && e.State == CanErrorState.BusOff,
                $"first frame {Describe(busOff)}: want the bus-off error frame (the protocol error is filtered out)");
            Run("cansend", "vcan0", "20000004#0020000000000000");
            CanFrame passive = reader.Next(Soon, what: "the controller error frame");
            Expect(CanErrorFrame.TryRead(passive, out e) && e.Controller == CanControllerProblems.TxPassive && e.State == CanErrorState.Passive,
                $"got {Describe(passive)}: want controller TX passive");
            // The same from a port: SocketCanPort writes error frames too (what a test injects a bus-off with).
            using var injector = new SocketCanPort("vcan0", null, log.For("inject"));
            Expect(injector.Send(new CanFrame { Id = (uint)CanErrorClasses.Restarted, Kind = CanFrameKind.Error, Length = 8 }) == CanSendResult.Sent, "injecting a restart");
            CanFrame restarted = reader.Next(Soon, what: "the restarted error frame");
            Expect(CanErrorFrame.TryRead(restarted, out e) && e.Classes == CanErrorClasses.Restarted && e.State == CanErrorState.Active, $"got {Describe(restarted)}");
            return "bus-off, TX passive and restarted arrive as error frames with their classes; a protocol error, not asked for, does not";
        }

        public static string ABusOffAPortSendsArrivesAsBusOff(ProbeLog log)
        {
            // What the CAN bridge does with a remote-owned controller's bus-off: SocketCanPort.Send of the error frame on
            // a vcan. The kernel must take it (can_send has no rule against CAN_ERR_FLAG from a raw socket) and hand it to
            // the other sockets whose error filter has the class: the default SocketCanPortOptions do.
            using var sender = new SocketCanPort("vcan0", null, log.For("busoff"));
            using var receiver = new SocketCanPort("vcan0", null, log.For("busoff-peer"));
            var reader = new PortReader(receiver);
            CanSendResult sent = sender.Send(CanErrorFrame.BusOff());
            Expect(sent == CanSendResult.Sent, $"the kernel did not take the bus-off error frame on vcan0: Send answered {sent}");
            CanFrame got = reader.Next(Soon, what: "the bus-off error frame");
            Expect(got.IsError && CanErrorFrame.IsBusOff(got), $"got {Describe(got)}: want an error frame for which IsBusOff is true");
            Expect(CanErrorFrame.TryRead(got, out CanErrorFrame e) && e.Classes == CanErrorClasses.BusOff && e.State == CanErrorState.BusOff && got.Length == CanErrorFrame.Length,
                $"got {Describe(got)}: want class BUSOFF only, 8 bytes");
            Expect(!receiver.TryReceive(out CanFrame extra), $"one more frame than was sent: {Describe(extra)}");
            return $"Send answered {sent}; the other port got an error frame of class BUSOFF ({Describe(got)})";
        }

        public static string ABridgeCarriesABusOffOntoTheVcanOnly(ProbeLog log)
        {
            // The reverse topology's bridge, with an in-process bus standing for the remote's controller: its bus-off
            // crosses onto vcan0 (errorFramesFromA), where a port hears it; a bus-off written on vcan0 does not cross back.
            using var controllerBus = new VirtualCanBus("remote-ctl");
            using VirtualCanPort controller = controllerBus.Attach("controller");
            var fromVcan = new PortReader(controller);
            using var listener = new SocketCanPort("vcan0", null, log.For("bridge-peer"));
            var onVcan = new PortReader(listener);
            using var bridge = new CanPortBridge(controllerBus.Attach("bridge"), new SocketCanPort("vcan0", null, log.For("bridge")), logger: log.For("bridge"), errorFramesFromA: true);
            Expect(controller.Send(CanErrorFrame.BusOff()) == CanSendResult.Sent, "the controller's bus-off not sent on its bus");
            CanFrame got = onVcan.Next(Soon, what: "the controller's bus-off on vcan0");
            Expect(CanErrorFrame.IsBusOff(got), $"got {Describe(got)} on vcan0: want the bus-off error frame");
            // The other way: a bus-off on vcan0 is not the controller's; a data frame after it marks where it would have been.
            Expect(listener.Send(CanErrorFrame.BusOff()) == CanSendResult.Sent && listener.Send(Frame(0x0B5, CanFrameKind.None, 0xB5)) == CanSendResult.Sent, "sends on vcan0");
            CanFrame first = fromVcan.Next(Soon, what: "the marker from vcan0");
            ExpectSame(first, Frame(0x0B5, CanFrameKind.None, 0xB5), "the first frame from vcan0 on the controller's bus (the bus-off must not cross)");
            // The bridge's one thread counted the bus-off's crossing before it took the marker from vcan0.
            Expect(bridge.CrossedAToB == 1 && bridge.Dropped == 0, $"the bridge crossed {bridge.CrossedAToB} frame(s) to vcan0 and dropped {bridge.Dropped}: want 1 and 0");
            return "the controller's bus-off reached vcan0 through the bridge; vcan0's own bus-off did not cross back, its data frame did";
        }

        public static string DownIsSaidAndUpServesAgain(ProbeLog log)
        {
            using var port = new SocketCanPort("vcan0", null, log.For("down"));
            using var peer = new SocketCanPort("vcan0", null, log.For("down-peer"));
            var heard = new PortReader(peer);
            var reader = new PortReader(port);
            Expect(port.Send(Frame(0x100, CanFrameKind.None, 1)) == CanSendResult.Sent, "before down");
            ExpectSame(heard.Next(Soon), Frame(0x100, CanFrameKind.None, 1), "before down");
            Run("ip", "link", "set", "vcan0", "down");
            try
            {
                Expect(port.Send(Frame(0x101, CanFrameKind.None, 2)) == CanSendResult.Down, "Send on a down interface was not answered Down");
                Expect(port.State == SocketCanPortState.Down, $"state {port.State} after a Send found it down");
                WaitUntil(() => peer.State == SocketCanPortState.Down, Soon, "the idle peer noticing the interface down");
                Expect(log.Has("down", "the interface is down"), "the port did not log that vcan0 is down");
            }
            finally
            {
                Run("ip", "link", "set", "vcan0", "up");
            }
            WaitUntil(() => port.State == SocketCanPortState.Up, Soon, "the port noticing the interface up");
            Expect(log.Has("down", "the interface is up"), "the port did not log that vcan0 is up again");
            Expect(port.Send(Frame(0x102, CanFrameKind.None, 3)) == CanSendResult.Sent, "Send after up");
            ExpectSame(heard.Next(Soon), Frame(0x102, CanFrameKind.None, 3), "after up, the peer hears the port");
            Run("cansend", "vcan0", "103#04");
            ExpectSame(reader.Next(Soon), Frame(0x103, CanFrameKind.None, 4), "after up, cansend reaches the port");
            return "Down while down (said in the log), the same ports serve both ways after up";
        }

        public static string AMissingInterfaceIsServedOnceCreated(ProbeLog log)
        {
            var options = new SocketCanPortOptions { RetryInterval = TimeSpan.FromMilliseconds(500) };
            using var port = new SocketCanPort("vcan9", options, log.For("late"));
            var reader = new PortReader(port);
            Expect(port.State == SocketCanPortState.Missing, $"state {port.State} without vcan9");
            Expect(port.Send(Frame(0x1, CanFrameKind.None)) == CanSendResult.Down, "Send without vcan9 was not answered Down");
            Expect(log.Has("late", "no such CAN interface"), "the port did not log that vcan9 is missing");
            int firstIndex;
            try
            {
                Run("ip", "link", "add", "vcan9", "type", "vcan");
                Run("ip", "link", "set", "vcan9", "up");
                WaitUntil(() => port.State == SocketCanPortState.Up, Soon, "the port finding vcan9");
                firstIndex = port.InterfaceIndex;
                Run("cansend", "vcan9", "009#09");
                ExpectSame(reader.Next(Soon), Frame(0x9, CanFrameKind.None, 9), "cansend vcan9 reaches the port");
                using (var peer = new SocketCanPort("vcan9", null, log.For("late-peer")))
                {
                    var heard = new PortReader(peer);
                    Expect(port.Send(Frame(0x19, CanFrameKind.None, 0x19)) == CanSendResult.Sent, "Send on vcan9");
                    ExpectSame(heard.Next(Soon), Frame(0x19, CanFrameKind.None, 0x19), "a peer on vcan9 hears the port");
                }
                Run("ip", "link", "del", "vcan9");
                WaitUntil(() => port.State == SocketCanPortState.Missing, Soon, "the port noticing vcan9 deleted");
                Expect(port.Send(Frame(0x1, CanFrameKind.None)) == CanSendResult.Down, "Send after vcan9 was deleted was not answered Down");
                Run("ip", "link", "add", "vcan9", "type", "vcan");
                Run("ip", "link", "set", "vcan9", "up");
                WaitUntil(() => port.State == SocketCanPortState.Up, Soon, "the port finding vcan9 again");
                Expect(port.InterfaceIndex != firstIndex, $"bound to index {port.InterfaceIndex}, the deleted interface's");
                Run("cansend", "vcan9", "029#29");
                ExpectSame(reader.Next(Soon), Frame(0x29, CanFrameKind.None, 0x29), "cansend on the re-created vcan9 reaches the port");
            }
            finally
            {
                try { Run("ip", "link", "del", "vcan9"); } catch (InvalidOperationException) { } // gone already
            }
            return $"missing (logged, Down), served once created (index {firstIndex}), missing once deleted, served again when re-created (index {port.InterfaceIndex})";
        }

        public static string FiltersLetOnlyTheirFramesThrough(ProbeLog log)
        {
            // One port takes standard 0x123 only; another everything but extended 0x1234567 (an inverted filter).
            using var exact = new SocketCanPort("vcan0", new SocketCanPortOptions { Filters = [CanFilter.Exact(0x123)] }, log.For("filter"));
            CanFilter notIt = CanFilter.Exact(0x1234567, extended: true);
            using var inverted = new SocketCanPort("vcan0", new SocketCanPortOptions { Filters = [notIt with { Id = notIt.Id | CanFilter.InvertFlag }] }, log.For("filter-inv"));
            PortReader e = new(exact), i = new(inverted);
            // The last frame passes both: whatever either port takes before it is all that got through.
            foreach (string frame in new[] { "124#01", "01234567#02", "123#03", "00000123#04", "01234568#05", "123#FF" }) Run("cansend", "vcan0", frame);
            CanFrame last = Frame(0x123, CanFrameKind.None, 0xFF);
            foreach (CanFrame want in new[] { Frame(0x123, CanFrameKind.None, 3), last })
                ExpectSame(e.Next(Soon), want, "through the exact filter for standard 0x123");
            foreach (CanFrame want in new[] { Frame(0x124, CanFrameKind.None, 1), Frame(0x123, CanFrameKind.None, 3), Frame(0x123, CanFrameKind.Extended, 4), Frame(0x1234568, CanFrameKind.Extended, 5), last })
                ExpectSame(i.Next(Soon), want, "through the inverted filter for extended 0x1234567");
            return "an exact filter passes its identifier only (not the extended one of the same number); an inverted one everything but its own";
        }

        public static string TwoInterfacesAtOnceKeepTheirFramesApart(ProbeLog log)
        {
            using var a = new SocketCanPort("vcan0", null, log.For("two-a"));
            using var b = new SocketCanPort("vcan1", null, log.For("two-b"));
            using var hearA = new SocketCanPort("vcan0", null, log.For("two-a-peer"));
            using var hearB = new SocketCanPort("vcan1", null, log.For("two-b-peer"));
            PortReader ra = new(a), rb = new(b), ha = new(hearA), hb = new(hearB);
            Run("cansend", "vcan0", "0A0#A0");
            Run("cansend", "vcan1", "0B0#B0");
            ExpectSame(ra.Next(Soon), Frame(0xA0, CanFrameKind.None, 0xA0), "vcan0's port hears vcan0");
            ExpectSame(rb.Next(Soon), Frame(0xB0, CanFrameKind.None, 0xB0), "vcan1's port hears vcan1 (and not vcan0's frame)");
            Expect(a.Send(Frame(0xA1, CanFrameKind.None, 0xA1)) == CanSendResult.Sent && b.Send(Frame(0xB1, CanFrameKind.None, 0xB1)) == CanSendResult.Sent, "sends");
            ExpectSame(ha.Next(Soon, f => f.Id != 0xA0), Frame(0xA1, CanFrameKind.None, 0xA1), "vcan0 carries only vcan0's port's frame");
            ExpectSame(hb.Next(Soon, f => f.Id != 0xB0), Frame(0xB1, CanFrameKind.None, 0xB1), "vcan1 carries only vcan1's port's frame");
            Expect(a.InterfaceIndex != b.InterfaceIndex, "both bound to one interface");
            return $"vcan0 (index {a.InterfaceIndex}) and vcan1 (index {b.InterfaceIndex}) served at once, each frame on its own bus";
        }
    }
}
