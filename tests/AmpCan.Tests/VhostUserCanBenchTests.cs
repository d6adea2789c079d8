using System.Text.Json;

namespace AmpCan.Tests.Host;

/// <summary>
/// <c>ampcan bench vhost-user</c>'s virtio-can case, quick, in one notification mode: a QEMU guest's Linux
/// <c>virtio_can</c> driver streams to AmpCan's bus and takes a stream from it (every frame checked on both sides), and
/// the figures come out: frames/s each way, the device loop's CPU per frame over vhost-user and on the resource-table
/// transport, and their ratio. The figures themselves are read from the full run.
/// </summary>
// Booting a TCG guest and streaming both ways takes longer than the assembly's two minutes on a loaded 2-core host.
#pragma warning disable CS0618 // Timeout: see tests/TestTimeLimit.cs
[TestFixture, Category("VirtioVm"), NonParallelizable, Timeout(300_000)]
#pragma warning restore CS0618
public class VhostUserCanBenchTests
{
    [OneTimeSetUp]
    public void RequireTheGuest() => VirtioVmHarness.RequireGuest("the vhost-user CAN benchmark against Linux's virtio_can");

    private static double Figure(JsonElement json, string key)
    {
        Assert.That(json.TryGetProperty(key, out JsonElement v), Is.True, $"the JSON line lacks {key}");
        return v.GetDouble();
    }

    [Test]
    public void QuickRunStreamsBothWaysAndReportsRatesAndTheLoopsCpuPerFrame()
    {
        const string key = "vhost_can.adaptive";
        var (code, output, error) = CommandLineTests.RunWithOutput(
            "bench", "vhost-user", "--quick", "--json", "--filter", key, "--guest-bench", VirtioVmHarness.ScriptDirectory);
        Assert.That(code, Is.Zero, $"bench vhost-user --quick --filter {key} failed:\n{error}");
        Assert.That(error, Does.Contain($"# {key} ..."), "the case ran");
        JsonElement json = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]).RootElement;
        foreach (string direction in new[] { "guest_to_amp", "amp_to_guest" })
        {
            string k = $"{key}.{direction}";
            Assert.That(Figure(json, $"{k}.frames_per_second"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"{k}.loop_cpu_ns_per_frame"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"{k}.resource_table_loop_cpu_ns_per_frame"), Is.GreaterThan(0));
            Assert.That(Figure(json, $"{k}.loop_cpu.vs_resource_table"),
                Is.EqualTo(Figure(json, $"{k}.loop_cpu_ns_per_frame") / Figure(json, $"{k}.resource_table_loop_cpu_ns_per_frame")).Within(0.1).Percent);
            Assert.That(Figure(json, $"{k}.loop_parks_per_frame"), Is.GreaterThanOrEqualTo(0));
            Assert.That(Figure(json, $"{k}.resource_table_loop_parks_per_frame"), Is.GreaterThanOrEqualTo(0));
        }
        Assert.That(json.EnumerateObject().Select(p => p.Name), Has.All.StartsWith(key), "the filter ran that case alone (not the rpmsg cases)");
    }
}
