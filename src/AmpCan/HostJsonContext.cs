using System.Text.Json.Serialization;
using AmpCan.Host.Boards;
using AmpCan.Host.Control;
using AmpCan.Host.Peers;

namespace AmpCan.Host;

/// <summary>
/// JSON metadata of what the host writes and reads (control responses, attach records, the vring peer's messages, the
/// benchmark figures), generated at compile time so a trimmed or Native AOT build reads and writes them as the JIT build
/// does. Each use keeps its own options (naming, strictness) and takes this as their resolver.
/// </summary>
/// <remarks>
/// Every type here is a positional record: the generator passes what the JSON lacks as the constructor's default value,
/// as reflection does. An init-only property with an initializer would read as default(T) when absent (see the board
/// files' BoardJsonContext in Remoteproc, which works around it).
/// </remarks>
[JsonSerializable(typeof(ControlResponse))]
[JsonSerializable(typeof(AttachRecord))]
[JsonSerializable(typeof(VringPeerParameters))]
[JsonSerializable(typeof(VringPeerReport))]
[JsonSerializable(typeof(SortedDictionary<string, double>))]
internal sealed partial class HostJsonContext : JsonSerializerContext;
