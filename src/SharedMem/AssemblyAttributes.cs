using System.Runtime.CompilerServices;

// The tests check FileDescriptorHandle's close-after-last-use rule directly: a race is not a thing a test can reproduce on demand.
[assembly: InternalsVisibleTo("AmpCan.SharedMem.Tests")]
