using System.Collections.Concurrent;
using AmpCan.RpmsgChar;

namespace AmpCan.Tests.RpmsgChar;

/// <summary>What a front end would have answered: each answer by token, each poll wake-up by handle, waited for with a time limit.</summary>
internal sealed class RecordingReplies : IRpmsgCharReplies
{
    public sealed record Answer(byte[]? Data, int Written, int Errno);

    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<Answer>> _answers = new();
    private readonly ConcurrentDictionary<ulong, int> _polls = new();
    private readonly SemaphoreSlim _pollWoken = new(0);

    private TaskCompletionSource<Answer> Slot(ulong token) =>
        _answers.GetOrAdd(token, _ => new TaskCompletionSource<Answer>(TaskCreationOptions.RunContinuationsAsynchronously));

    public void ReadDone(ulong token, ReadOnlySpan<byte> data) => Complete(token, new Answer(data.ToArray(), 0, 0));
    public void WriteDone(ulong token, int count) => Complete(token, new Answer(null, count, 0));
    public void Failed(ulong token, int errno) => Complete(token, new Answer(null, 0, errno));

    public void PollReady(ulong pollHandle)
    {
        _polls.AddOrUpdate(pollHandle, 1, (_, n) => n + 1);
        _pollWoken.Release();
    }

    private void Complete(ulong token, Answer a)
    {
        if (!Slot(token).TrySetResult(a)) Assert.Fail($"token {token} answered twice");
    }

    public bool Answered(ulong token) => _answers.TryGetValue(token, out var t) && t.Task.IsCompleted;

    public Answer Wait(ulong token)
    {
        var t = Slot(token).Task;
        Assert.That(t.Wait(TimeSpan.FromSeconds(10)), Is.True, $"no answer to token {token}");
        return t.Result;
    }

    public bool WaitPollWake() => _pollWoken.Wait(TimeSpan.FromSeconds(10));

    public int PollWakes(ulong handle) => _polls.GetValueOrDefault(handle);
}
