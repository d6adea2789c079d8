using System.Diagnostics;
using System.Runtime.InteropServices;
using AmpCan.SharedMem.Ordering;

namespace AmpCan.Tests.SharedMem.Ordering;

/// <summary>
/// The barrier routines are the instructions Linux's mb()/dma_rmb()/dma_wmb() are on each architecture: literal bytes
/// from the architecture manuals, and the same bytes as binutils' disassemblers read them (where installed).
/// </summary>
public class BarrierCodeTests
{
    [Test]
    public void Arm64RoutinesAreDsbSyDmbOshldDmbOshstEachThenRet()
    {
        Assert.That(BarrierCode.Arm64.Full, Is.EqualTo(new byte[] { 0x9F, 0x3F, 0x03, 0xD5, 0xC0, 0x03, 0x5F, 0xD6 }));
        Assert.That(BarrierCode.Arm64.Read, Is.EqualTo(new byte[] { 0xBF, 0x31, 0x03, 0xD5, 0xC0, 0x03, 0x5F, 0xD6 }));
        Assert.That(BarrierCode.Arm64.Write, Is.EqualTo(new byte[] { 0xBF, 0x32, 0x03, 0xD5, 0xC0, 0x03, 0x5F, 0xD6 }));
    }

    [Test]
    public void Arm32RoutinesAreDsbSyDmbOshDmbOshstEachThenBxLr()
    {
        Assert.That(BarrierCode.Arm32.Full, Is.EqualTo(new byte[] { 0x4F, 0xF0, 0x7F, 0xF5, 0x1E, 0xFF, 0x2F, 0xE1 }));
        Assert.That(BarrierCode.Arm32.Read, Is.EqualTo(new byte[] { 0x53, 0xF0, 0x7F, 0xF5, 0x1E, 0xFF, 0x2F, 0xE1 }));
        Assert.That(BarrierCode.Arm32.Write, Is.EqualTo(new byte[] { 0x52, 0xF0, 0x7F, 0xF5, 0x1E, 0xFF, 0x2F, 0xE1 }));
    }

    [Test]
    public void X64FullBarrierIsMfenceThenRetAndTheOthersNeedNoInstruction()
    {
        Assert.That(BarrierCode.X64.Full, Is.EqualTo(new byte[] { 0x0F, 0xAE, 0xF0, 0xC3 }));
        Assert.That(BarrierCode.X64.Read, Is.Empty);
        Assert.That(BarrierCode.X64.Write, Is.Empty);
        Assert.That(BarrierCode.For(Architecture.X64), Is.SameAs(BarrierCode.X64));
        Assert.That(BarrierCode.For(Architecture.Arm64), Is.SameAs(BarrierCode.Arm64));
        Assert.That(BarrierCode.For(Architecture.Arm), Is.SameAs(BarrierCode.Arm32));
        Assert.That(BarrierCode.For(Architecture.S390x), Is.Null);
    }

    [Test]
    public void Arm64DisassemblerReadsTheRoutinesAsLinuxsBarriers() =>
        Assert.That(Disassemble("aarch64-linux-gnu-objdump", "aarch64", BarrierCode.Arm64),
            Is.EqualTo(new[] { "dsb sy", "ret", "dmb oshld", "ret", "dmb oshst", "ret" }));

    [Test]
    public void Arm32DisassemblerReadsTheRoutinesAsLinuxsBarriers() =>
        Assert.That(Disassemble("arm-none-eabi-objdump", "arm", BarrierCode.Arm32),
            Is.EqualTo(new[] { "dsb sy", "bx lr", "dmb osh", "bx lr", "dmb oshst", "bx lr" }));

    [Test]
    public void X64DisassemblerReadsTheFullBarrierAsMfence() =>
        Assert.That(Disassemble("objdump", "i386:x86-64", BarrierCode.X64), Is.EqualTo(new[] { "mfence", "ret" }));

    // The mnemonics and operands objdump prints for each routine, in order, spaces normalised.
    private static string[] Disassemble(string objdump, string machine, BarrierCode code)
    {
        string? tool = FindOnPath(objdump);
        if (tool is null) Assert.Ignore($"{objdump} is not installed (binutils for {machine}; tests/run.sh installs it): the encodings are checked against the literal bytes only");
        var lines = new List<string>();
        foreach (byte[] routine in new[] { code.Full, code.Read, code.Write }.Where(r => r.Length > 0))
        {
            string file = Path.Combine(Path.GetTempPath(), $"ampcan-barrier-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
            File.WriteAllBytes(file, routine);
            try
            {
                var psi = new ProcessStartInfo(tool!, ["-D", "-b", "binary", "-m", machine, file]) { RedirectStandardOutput = true, RedirectStandardError = true };
                using Process p = Process.Start(psi)!;
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                Assert.That(p.ExitCode, Is.Zero, p.StandardError.ReadToEnd());
                // Instruction lines look like "   0:\td5033f9f \tdsb\tsy": address, encoding, then the instruction.
                foreach (string line in output.Split('\n'))
                {
                    string[] cols = line.Split('\t', StringSplitOptions.RemoveEmptyEntries);
                    if (cols.Length >= 3 && cols[0].TrimEnd().EndsWith(':'))
                        lines.Add(string.Join(' ', string.Join(' ', cols.Skip(2)).Split(' ', StringSplitOptions.RemoveEmptyEntries)).Split(" ;")[0].Split(" //")[0].Trim());
                }
            }
            finally
            {
                File.Delete(file);
            }
        }
        return [.. lines];
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
