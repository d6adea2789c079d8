using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using AmpCan.Rpmsg;

namespace AmpCan.Tests.Rpmsg;

public class MetricsTests
{
    [Test]
    public async Task CountersArePublishedWhileTheDeviceLivesAndWithdrawnWhenItStops()
    {
        var published = new ConcurrentQueue<Instrument>();
        var completed = new ConcurrentBag<Instrument>();
        var values = new ConcurrentDictionary<Instrument, long>();
        bool recording = false;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name != RpmsgStatistics.MeterName) return;
            if (Volatile.Read(ref recording)) published.Enqueue(i);
            l.EnableMeasurementEvents(i);
        };
        listener.MeasurementsCompleted = (i, _) => completed.Add(i);
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => values[i] = v);
        listener.Start();

        Volatile.Write(ref recording, true);
        var link = new RpmsgLink();
        Volatile.Write(ref recording, false);
        Instrument[] ours = [.. published];
        Assert.That(ours.Select(i => i.Name).Distinct(), Is.EquivalentTo(new[]
            { "ampcan.rpmsg.messages_sent", "ampcan.rpmsg.messages_received", "ampcan.rpmsg.dropped", "ampcan.rpmsg.ns_malformed" }));
        Assert.That(ours, Has.Length.EqualTo(8), "four instruments for each of the two devices");

        using (RpmsgEndpoint echo = link.Remote.CreateEndpoint("echo", (in RpmsgReceivedMessage m) => m.Endpoint.PostTo(m.Source, m.Payload)))
        using (RpmsgEndpoint ep = link.Host.CreateEndpoint("client", null, destination: echo.Address))
        {
            ep.Send("counted"u8);
            using RpmsgMessage reply = await ep.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        listener.RecordObservableInstruments();
        Assert.That(ours.Where(i => i.Name == "ampcan.rpmsg.messages_sent").Select(i => values.GetValueOrDefault(i)), Is.EquivalentTo(new[] { 1L, 1L }),
            "each device reports the one message it sent");

        link.Dispose();
        Assert.That(ours.Except(completed), Is.Empty, "a stopped device withdraws its instruments (and no longer stays reachable through them)");
    }
}
