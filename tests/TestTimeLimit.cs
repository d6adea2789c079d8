// Linked into every test project (tests/Directory.Build.props): every test fails when it runs longer than this, so
// that a hang costs one test and two minutes instead of stalling the run. The slowest tests (the quick benchmark
// smoke runs) take under a minute on two busy cores; a test that needs longer says so with a [Timeout] of its own.
//
// What NUnit 4.4 does with it on .NET (TimeoutCommand without THREAD_ABORT): it runs the test, set-up and tear-down
// included, on a thread-pool task, waits up to the limit, then records "Test exceeded Timeout value of 120000ms" and
// goes on with the next test. The stuck task is left running, not aborted (.NET cannot abort a thread; that is why
// the attribute is marked obsolete there). CancelAfter would only cancel a token the test must watch, and
// `dotnet test --blame-hang-timeout` kills the whole test host; tests/run.sh keeps a whole-run limit as the backstop.
// OneTimeSetUp is outside any test's limit: the fixtures that have one (the kernel-VM guests) bound their own waits.
#pragma warning disable CS0618 // Timeout is obsolete on .NET for the reason above; what remains is what we want
[assembly: Timeout(120_000)]
#pragma warning restore CS0618
