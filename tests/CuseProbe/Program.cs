using System.Diagnostics;
using AmpCan.Fuse;
using AmpCan.SharedMem;
using AmpCan.Tests.Fuse;
using Microsoft.Extensions.Logging;
using static AmpCan.Tests.Fuse.LibcForTests;

// Guest side of the CUSE kernel-VM tests (Fuse.Tests' CuseGuestTests): an echo character device served by CuseServer
// on the guest kernel's /dev/cuse, used by a client in this same process through open/read/write/poll/ioctl. One line
// per check: "RESULT <name> pass|fail <detail> (<seconds> s)"; "MEASURED <what> <value>" lines say what the kernel did.
// Log lines go to stderr. Exit code 0 unless the probe itself broke. Checks run in order (later ones use earlier state).
var probe = new AmpCan.Tests.Fuse.CuseProbe.Probe();
foreach (var (name, run) in probe.Checks())
{
    var clock = Stopwatch.StartNew();
    string outcome;
    try
    {
        outcome = "pass " + run();
    }
    catch (Exception e)
    {
        outcome = $"fail {e.GetType().Name}: {e.Message}".ReplaceLineEndings(" | ");
    }
    Console.WriteLine($"RESULT {name} {outcome} ({clock.Elapsed.TotalSeconds:F2} s)");
}
probe.Dispose();
return 0;

namespace AmpCan.Tests.Fuse.CuseProbe
{
    internal sealed class Probe : IDisposable
    {
        private const string Name = "ampcan/echo0", OtherName = "ampcan/echo1";
        private const uint Owner = 1234, Group = 5678, Mode = 0x1A0; // 0640
        private const int ENOENT = 2, EFAULT = 14, ENOMEM = 12, EPIPE = 32, ENOTTY = 25, EAGAIN = 11, EEXIST = 17;
        private static readonly TimeSpan Soon = TimeSpan.FromSeconds(20);

        private readonly ILogger _log = new StderrLogger("cuse");
        private readonly EchoCharacterDevice _device = new();
        private CuseServer? _server;

        public IEnumerable<(string, Func<string>)> Checks() =>
        [
            ("create", Create),
            ("name-taken", NameTaken),
            ("echo", Echo),
            ("short-read", ShortRead),
            ("nonblock", NonBlocking),
            ("poll", PollWakes),
            ("ioctl-retry", UnrestrictedIoctl),
            ("ioctl-efault", BadPointer),
            ("ioctl-refused", RefusedRetry),
            ("hide", HideWhileOpen),
            ("server-close", ServerCloseWhileOpen),
            ("stop", CleanStop),
        ];

        private static void Expect(bool condition, string what)
        {
            if (!condition) throw new InvalidOperationException(what);
        }

        private static void Measured(string what, string value) => Console.WriteLine($"MEASURED {what} {value}");

        private static int OpenDevice(string path, int flags = 0)
        {
            int fd = Open(path, ORdwr | OCloexec | flags);
            Expect(fd >= 0, $"open {path}: errno {Errno}");
            return fd;
        }

        private static void WriteAll(int fd, byte[] message)
        {
            nint n = Write(fd, message, message.Length);
            Expect(n == message.Length, $"write of {message.Length}: {n}, errno {Errno}");
        }

        /// <summary>A read that must not block: poll first, bounded.</summary>
        private static nint ReadReady(int fd, byte[] buffer, int count)
        {
            PollFd[] fds = [new PollFd { Fd = fd, Events = PollIn }];
            Expect(LibcForTests.Poll(fds, 1, (int)Soon.TotalMilliseconds) == 1, "nothing became readable");
            return Read(fd, buffer, count);
        }

        private static (nint Result, int Errno) Attempt(Func<nint> call)
        {
            nint r = call();
            return (r, r < 0 ? Errno : 0);
        }

        private string Create()
        {
            var clock = Stopwatch.StartNew();
            _server = CuseServer.Open(new CuseServerOptions { DeviceName = Name, NodeOwner = Owner, NodeGroup = Group, NodeMode = Mode },
                _device, _log);
            double openMs = clock.Elapsed.TotalMilliseconds;
            var node = _server.Node!;
            Expect(node.Path == "/dev/ampcan/echo0", $"node path {node.Path}");
            Expect(DeviceNode.Stat(node.Path, out var st) == 0, $"stat {node.Path}: errno {Errno}");
            Expect(st.IsCharacterDevice, $"{node.Path} mode {Convert.ToString(st.Mode, 8)} is not a character device");
            Expect((st.Owner, st.Group, st.Permissions) == (Owner, Group, Mode),
                $"{node.Path} is {st.Owner}:{st.Group} 0{Convert.ToString(st.Permissions, 8)}, configured {Owner}:{Group} 0640");
            Expect((st.Major, st.Minor) == (node.Major, node.Minor), $"node {st.Major}:{st.Minor}, sysfs {node.Major}:{node.Minor}");
            string sysfs = CuseDeviceNode.SysfsDirectory(Name);
            Expect(Directory.Exists(sysfs), $"{sysfs} missing");
            Measured("device", $"{node.Path} {node.Major}:{node.Minor} sysfs {sysfs} FUSE 7.{_server.NegotiatedMinor} (kernel 7.{_server.KernelMinor}) unrestricted {_server.UnrestrictedIoctl}");
            Measured("open-ms", $"{openMs:F1}");
            Measured("sysfs-class-cuse", string.Join(',', Directory.GetFileSystemEntries("/sys/class/cuse").Select(Path.GetFileName)));
            return $"S_ISCHR {node.Path} {node.Major}:{node.Minor}, {Owner}:{Group} 0640, in {openMs:F0} ms";
        }

        private string NameTaken()
        {
            try
            {
                using var second = CuseServer.Open(new CuseServerOptions { DeviceName = Name }, new EchoCharacterDevice(), _log);
            }
            catch (FuseMountException e) when (e.Errno == EEXIST)
            {
                return e.Message;
            }
            throw new InvalidOperationException("a second device of the same name was created");
        }

        private string Echo()
        {
            int fd = OpenDevice(_server!.Node!.Path);
            try
            {
                var buffer = new byte[1024];
                var clock = Stopwatch.StartNew();
                for (int size = 1; size <= 496; size++)
                {
                    byte[] message = [.. Enumerable.Range(0, size).Select(i => (byte)(i + size))];
                    WriteAll(fd, message);
                    nint n = ReadReady(fd, buffer, buffer.Length);
                    Expect(n == size, $"size {size}: read {n}, errno {Errno}");
                    Expect(buffer.AsSpan(0, size).SequenceEqual(message), $"size {size}: bytes differ");
                }
                Measured("echo-round-trip-us", $"{clock.Elapsed.TotalMicroseconds / 496:F0} (mean of 496 write+poll+read, TCG guest)");
                return "every size 1 to 496 came back as one read";
            }
            finally
            {
                Close(fd);
            }
        }

        private string ShortRead()
        {
            int fd = OpenDevice(_server!.Node!.Path);
            try
            {
                WriteAll(fd, [.. Enumerable.Range(0, 100).Select(i => (byte)i)]);
                WriteAll(fd, [200]);
                var buffer = new byte[10];
                Expect(ReadReady(fd, buffer, 10) == 10 && buffer[9] == 9, "the first read did not take 10 bytes of the first message");
                Expect(ReadReady(fd, buffer, 10) == 1 && buffer[0] == 200, "the rest of the first message was not discarded");
                return "10 of 100 bytes, the rest discarded";
            }
            finally
            {
                Close(fd);
            }
        }

        private string NonBlocking()
        {
            int fd = OpenDevice(_server!.Node!.Path, ONonblock);
            try
            {
                var (r, e) = Attempt(() => Read(fd, new byte[16], 16));
                Expect((r, e) == (-1, EAGAIN), $"read gave {r}, errno {e}");
                return "EAGAIN";
            }
            finally
            {
                Close(fd);
            }
        }

        private string PollWakes()
        {
            int reader = OpenDevice(_server!.Node!.Path), writer = OpenDevice(_server.Node.Path);
            try
            {
                PollFd[] fds = [new PollFd { Fd = reader, Events = PollIn }];
                var poll = Task.Run(() => LibcForTests.Poll(fds, 1, 60_000));
                // Written only once the poll asked to be notified, so that only FUSE_NOTIFY_POLL can wake it.
                Expect(_device.PollScheduled.Wait(Soon), "the poll never reached the server");
                var clock = Stopwatch.StartNew();
                WriteAll(writer, [5]);
                Expect(poll.Wait(Soon), "poll was not woken");
                Expect(poll.Result == 1 && (fds[0].ReadyEvents & PollIn) != 0, $"poll gave {poll.Result}, events {fds[0].ReadyEvents}");
                Measured("poll-wake-ms", $"{clock.Elapsed.TotalMilliseconds:F1}");
                Expect(ReadReady(reader, new byte[4], 4) == 1, "the message was not there");
                return "woken by the notification";
            }
            finally
            {
                Close(reader);
                Close(writer);
            }
        }

        private string UnrestrictedIoctl()
        {
            int fd = OpenDevice(_server!.Node!.Path);
            try
            {
                lock (_device.IoctlRequests) _device.IoctlRequests.Clear();
                var block = new byte[40];
                for (int i = 0; i < 40; i++) block[i] = (byte)(3 * i + 1);
                int expected = block.Sum(b => b);
                int rc = Ioctl(fd, EchoCharacterDevice.SumIoctl, block);
                Expect(rc == 0, $"ioctl gave {rc}, errno {Errno}");
                int got = BitConverter.ToInt32(block, 36);
                Expect(got == expected, $"the int written back is {got}, not {expected}");
                var rounds = _device.IoctlRequests.ToArray();
                Expect(rounds.Length == 2 && rounds[0].InSize == 0 && rounds[0].OutSize == 0 && rounds[1].InSize == 40 && rounds[1].OutSize == 4
                    && rounds.All(r => (r.Flags & 2) != 0), $"rounds: {string.Join("; ", rounds)}");

                var info = new byte[40];
                "rpmsg-raw"u8.CopyTo(info);
                rc = Ioctl(fd, EchoCharacterDevice.CreateEndpointIoctl, info);
                Expect(rc == 0 && _device.Endpoints.Count == 1 && _device.Endpoints[0].AsSpan().SequenceEqual(info),
                    $"CREATE_EPT gave {rc}, errno {Errno}, {_device.Endpoints.Count} endpoints");
                var (r, e) = Attempt(() => Ioctl(fd, 0xB5EE, 0));
                Expect((r, e) == (-1, ENOTTY), $"unknown ioctl gave {r}, errno {e}");
                Measured("ioctl-rounds", string.Join("; ", rounds.Select(x => $"flags {x.Flags} in {x.InSize} out {x.OutSize}")));
                return $"40 bytes read, {got} written back in two rounds; CREATE_EPT's 40 bytes by their encoding; ENOTTY";
            }
            finally
            {
                Close(fd);
            }
        }

        private string BadPointer()
        {
            int fd = OpenDevice(_server!.Node!.Path);
            try
            {
                int before = _device.IoctlRequests.Count;
                var (r, e) = Attempt(() => Ioctl(fd, EchoCharacterDevice.SumIoctl, 8));
                Expect((r, e) == (-1, EFAULT), $"sum ioctl on address 8 gave {r}, errno {e}");
                var (r2, e2) = Attempt(() => Ioctl(fd, EchoCharacterDevice.CreateEndpointIoctl, 8));
                Expect((r2, e2) == (-1, EFAULT), $"CREATE_EPT on address 8 gave {r2}, errno {e2}");
                int rounds = _device.IoctlRequests.Count - before;
                Measured("efault-rounds-seen-by-server", $"{rounds} (only the first rounds: the copy failed in the kernel)");
                return "EFAULT for both; the server saw only first rounds";
            }
            finally
            {
                Close(fd);
            }
        }

        private string RefusedRetry()
        {
            int fd = OpenDevice(_server!.Node!.Path);
            try
            {
                var (r, e) = Attempt(() => Ioctl(fd, EchoCharacterDevice.LongIovecIoctl, 1 << 20));
                Expect((r, e) == (-1, ENOMEM), $"1 MiB iovec gave {r}, errno {e}");
                var (r2, e2) = Attempt(() => Ioctl(fd, EchoCharacterDevice.ManyIovecsIoctl, 300));
                Expect((r2, e2) == (-1, ENOMEM), $"300 iovecs gave {r2}, errno {e2}");
                var (r3, e3) = Attempt(() => Ioctl(fd, EchoCharacterDevice.ManyIovecsIoctl, 256));
                Measured("256-unmapped-iovecs", $"{r3} errno {e3}");
                Expect((r3, e3) == (-1, EFAULT), $"256 one-byte iovecs at unmapped 0x10000 gave {r3}, errno {e3}");
                return "ENOMEM for 1 MiB and for 300 iovecs; 256 taken by the kernel (then EFAULT: unmapped)";
            }
            finally
            {
                Close(fd);
            }
        }

        private string HideWhileOpen()
        {
            string path = _server!.Node!.Path;
            int fd = OpenDevice(path);
            bool closed = false;
            try
            {
                _server.Hide();
                Expect(!File.Exists(path), $"{path} still there");
                var (o, oe) = Attempt(() => Open(path, ORdwr));
                Expect((o, oe) == (-1, ENOENT), $"open after hiding gave {o}, errno {oe}");
                Expect(Directory.Exists(CuseDeviceNode.SysfsDirectory(Name)), "the device went with its node");
                WriteAll(fd, [1, 2, 3]);
                Expect(ReadReady(fd, new byte[8], 8) == 3, "the hidden device did not echo");
                _device.Destroy();
                var (w, we) = Attempt(() => Write(fd, new byte[] { 1 }, 1));
                var (r, re) = Attempt(() => Read(fd, new byte[8], 8));
                Expect((w, we, r, re) == (-1, EPIPE, -1, EPIPE), $"after destroy: write {w}/{we}, read {r}/{re}");
                int releasesBefore = _device.Released.CurrentCount;
                Expect(Close(fd) == 0, $"close: errno {Errno}");
                closed = true;
                Expect(_device.Released.Wait(Soon), "no RELEASE after the last close");
                Measured("hidden-node", "unlinked; open ENOENT; open descriptor echoed, then EPIPE from the server; close gave RELEASE");
                return "hidden, still served, EPIPE after destroy, RELEASE on close";
            }
            finally
            {
                if (!closed) Close(fd);
            }
        }

        private string ServerCloseWhileOpen()
        {
            var device = new EchoCharacterDevice();
            var server = CuseServer.Open(new CuseServerOptions { DeviceName = OtherName }, device, _log);
            string path = server.Node!.Path;
            int blocked = OpenDevice(path), idle = OpenDevice(path);
            var buffer = new byte[16];
            var read = Task.Run(() => Attempt(() => Read(blocked, buffer, 16)));
            Expect(device.ReadHeld.Wait(Soon), "the read was not held");
            PollFd[] fds = [new PollFd { Fd = idle, Events = PollIn }];
            var poll = Task.Run(() => LibcForTests.Poll(fds, 1, 60_000));
            Expect(device.PollScheduled.Wait(Soon), "the poll never reached the server");
            var clock = Stopwatch.StartNew();
            server.Dispose();
            double stopMs = clock.Elapsed.TotalMilliseconds;
            Expect(read.Wait(Soon), "the blocked read never returned");
            Expect(poll.Wait(Soon), "the waiting poll never returned");
            var (r, re) = read.Result;
            var (w, we) = Attempt(() => Write(idle, new byte[] { 1 }, 1));
            var (r2, re2) = Attempt(() => Read(idle, buffer, 16));
            var (i, ie) = Attempt(() => Ioctl(idle, 0xB5EE, 0));
            fds[0].ReadyEvents = 0;
            int p2 = LibcForTests.Poll(fds, 1, 0);
            bool nodeThere = File.Exists(path), sysfsThere = Directory.Exists(CuseDeviceNode.SysfsDirectory(OtherName));
            var (o, oe) = Attempt(() => Open(path, ORdwr));
            int c1 = Close(blocked), c2 = Close(idle);
            string what = $"blocked read {r}/errno {re}; waiting poll {poll.Result} events 0x{fds[0].ReadyEvents:X}; later write {w}/{we}, read {r2}/{re2}, ioctl {i}/{ie}, poll {p2}; node {(nodeThere ? "still there" : "removed")}, sysfs {(sysfsThere ? "still there" : "removed")}; open {o}/{oe}; close {c1},{c2}; stop {stopMs:F1} ms";
            Measured("server-close", what);
            Expect(!nodeThere && !sysfsThere && server.HasEnded, "the device outlived its server");
            Expect(r == -1 && w == -1 && r2 == -1, "calls after the server closed did not fail");
            return what;
        }

        private string CleanStop()
        {
            var server = _server!;
            var clock = Stopwatch.StartNew();
            server.Dispose();
            double stopMs = clock.Elapsed.TotalMilliseconds;
            _server = null;
            Expect(server.HasEnded, "the loop still runs");
            Expect(!Directory.Exists(CuseDeviceNode.SysfsDirectory(Name)), "sysfs still has the device");
            Expect(!Directory.Exists("/dev/ampcan") || !Directory.EnumerateFileSystemEntries("/dev/ampcan").Any(), "/dev/ampcan still holds nodes");
            Measured("dev-ampcan-after-stop", Directory.Exists("/dev/ampcan") ? "empty directory left" : "removed");
            Measured("kernel-log", KernelLog());
            return $"stopped in {stopMs:F1} ms; sysfs and /dev cleared, {server.Replies.FailedWrites} failed replies";
        }

        public void Dispose() => _server?.Dispose();

        /// <summary>What the kernel logged about CUSE and FUSE during the run (warnings would show here).</summary>
        private static string KernelLog()
        {
            try
            {
                using var dmesg = Process.Start(new ProcessStartInfo("dmesg") { RedirectStandardOutput = true })!;
                string text = dmesg.StandardOutput.ReadToEnd();
                dmesg.WaitForExit(10_000);
                var lines = text.Split('\n').Where(l => l.Contains("cuse", StringComparison.OrdinalIgnoreCase) || l.Contains("fuse", StringComparison.OrdinalIgnoreCase)
                    || l.Contains("WARNING", StringComparison.Ordinal) || l.Contains("BUG", StringComparison.Ordinal));
                return string.Join(" | ", lines.Select(l => l.Trim()));
            }
            catch (Exception e)
            {
                return "dmesg failed: " + e.Message;
            }
        }
    }

    /// <summary>Log lines to stderr, prefixed with the logger's name.</summary>
    internal sealed class StderrLogger(string name) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Console.Error.WriteLine($"LOG {logLevel} [{name}] {formatter(state, exception)}{(exception is null ? "" : " | " + exception)}");
    }
}
