using AmpCan.Tests.ArmProbe;

// The arm64 guest side of the ArmVm tests (tests/AmpCan.Tests/ArmVm), run by tests/arm-vm/guest.sh. One check per
// process, so that a fault in one cannot hide the others' results:
//   maps BDF            the BAR through /dev/mem, UIO (or sysfs resource2), patterns both ways
//   vring BDF ROUNDS    the guest drives a split ring in the BAR, the host test is the device
//   rpmsg BDF           the guest is the host-role rpmsg bus over the BAR, the host test the remote
//   fault KIND BDF      a deliberately unsafe access to the BAR (unaligned-load, clear, copy): expected to die of SIGBUS
// Prints PASS/FAIL/INFO lines; exit 0 when every check of the command passed.
if (args.Length < 2) return Report.Fail("usage", "ampcan-arm-probe maps|vring|rpmsg|fault ...");
try
{
    return args[0] switch
    {
        "maps" => MapChecks.Run(args[1]),
        "vring" => VringDriverCheck.Run(args[1], int.Parse(args[2], provider: null)),
        "rpmsg" => RpmsgHostCheck.Run(args[1]),
        "fault" => UnsafeDeviceAccess.Run(args[2], args[1]),
        _ => Report.Fail("usage", $"unknown command {args[0]}"),
    };
}
catch (Exception e)
{
    // where it faulted, for the report: the innermost frames (an alignment fault names the product's access)
    foreach (string frame in (e.StackTrace ?? "").Split('\n').Take(8)) Report.Info($"  {frame.Trim()}");
    return Report.Fail(args[0], $"{e.GetType().Name}: {e.Message}");
}
