using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using AmpCan.Remoteproc.Firmware;
using AmpCan.Remoteproc.Lifecycle;
using AmpCan.SharedMem.Doorbells;

namespace AmpCan.Remoteproc.Boards;

/// <summary>
/// The board file's JSON metadata, generated at compile time so board files read the same in a trimmed or Native AOT
/// build as under the JIT (reflection-based System.Text.Json is not available there).
/// </summary>
[JsonSerializable(typeof(BoardDescriptor))]
[JsonSerializable(typeof(BoardFile.MultiCoreJson))]
internal sealed partial class BoardJsonContext : JsonSerializerContext
{
    /// <summary>
    /// The generated metadata, with the board's init-only records read as reflection-based System.Text.Json reads
    /// them: constructed with their initializers run, then each property in the file set (see <see cref="KeepInitializers"/>).
    /// </summary>
    // Built on use: static initializers of a partial class run in no promised order, and Default is in the generated part.
    internal static IJsonTypeInfoResolver Resolver() => Default.WithAddedModifier(KeepInitializers);

    // The source generator sets every init-only property in one object initializer, the ones the file leaves out to
    // default(T): a board's "fileMode": "0600", "bufferSize": 512, "recovery": "enabled"... would all be lost (open
    // upstream, dotnet/runtime#84484). A type given a parameterless creator is read property by property instead (the
    // reflection path), so only the properties the file has are set. Both the constructor and the properties come from
    // the generated metadata (which names them literally, so the trimmer keeps them): no type list to keep up to date.
    private static void KeepInitializers(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object || info.ConstructorAttributeProvider is not ConstructorInfo { } constructor
            || constructor.GetParameters().Length != 0)
            return;
        JsonPropertyInfo[] initOnly = [.. info.Properties.Where(p => p.AttributeProvider is PropertyInfo { SetMethod: { } set } && IsInitOnly(set))];
        if (initOnly.Length == 0) return;
        info.CreateObject = () => constructor.Invoke(null);
        foreach (JsonPropertyInfo p in initOnly)
        {
            var property = (PropertyInfo)p.AttributeProvider!;
            p.Set = (target, value) => property.SetValue(target, value);
        }
    }

    private static bool IsInitOnly(MethodInfo setter) =>
        setter.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(System.Runtime.CompilerServices.IsExternalInit));

    /// <summary>
    /// The enums a board file spells, in kebab case ("uio-irq"), numbers refused. One generic converter per enum type
    /// because the non-generic <see cref="JsonStringEnumConverter"/> makes its converters by reflection, which Native
    /// AOT cannot do. An enum missing here would read as a number: BoardJsonContextTests walks the board's types.
    /// </summary>
    internal sealed class KebabEnums : JsonConverterFactory
    {
        private static readonly Dictionary<Type, JsonConverterFactory> ByType = new()
        {
            [typeof(SharedMemoryKind)] = Kebab<SharedMemoryKind>(),
            [typeof(DoorbellKind)] = Kebab<DoorbellKind>(),
            [typeof(RemoteKind)] = Kebab<RemoteKind>(),
            [typeof(NotificationMode)] = Kebab<NotificationMode>(),
            [typeof(CanControllerOwner)] = Kebab<CanControllerOwner>(),
            [typeof(RegionRole)] = Kebab<RegionRole>(),
            [typeof(MailboxDirection)] = Kebab<MailboxDirection>(),
            [typeof(CoreMechanism)] = Kebab<CoreMechanism>(),
            [typeof(RecoveryPolicy)] = Kebab<RecoveryPolicy>(),
            [typeof(CoredumpMode)] = Kebab<CoredumpMode>(),
            [typeof(MailboxBlockKind)] = Kebab<MailboxBlockKind>(),
            [typeof(MuChannelType)] = Kebab<MuChannelType>(),
            [typeof(RegionCache)] = Kebab<RegionCache>(),
        };

        /// <summary>The enum types this converts.</summary>
        internal static IEnumerable<Type> Types => ByType.Keys;

        /// <inheritdoc/>
        public override bool CanConvert(Type typeToConvert) => ByType.ContainsKey(typeToConvert);

        /// <inheritdoc/>
        public override JsonConverter? CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
            ByType[typeToConvert].CreateConverter(typeToConvert, options);

        private static JsonStringEnumConverter<T> Kebab<T>() where T : struct, Enum => new(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false);
    }
}
