using AmpCan.VirtioCan.Wire;

namespace AmpCan.VirtioCan;

/// <summary>A START or STOP on its way to the device, and the task that completes with its answer (true: OK).</summary>
/// <param name="Request">START or STOP.</param>
/// <param name="StopsBefore">
/// STOP calls made before this one: a START the device answers OK starts the driver's side only if no STOP was made
/// since (that STOP follows it on the queue and will stop the controller again).
/// </param>
internal sealed record VirtioCanControlCall(VirtioCanMessageType Request, int StopsBefore)
{
    /// <summary>Completes with the device's answer; false also when the device went away before answering.</summary>
    public TaskCompletionSource<bool> Answered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
