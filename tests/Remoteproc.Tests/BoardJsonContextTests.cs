using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using AmpCan.Remoteproc.Boards;

namespace AmpCan.Tests.Remoteproc;

/// <summary>
/// Board files are read through compile-time metadata (BoardJsonContext, for trimming and Native AOT). Two things that
/// reflection did by itself must hold for every type a board file has, including ones added later: enums are spelled
/// in kebab case, and a property the file leaves out keeps its initializer's value.
/// </summary>
public class BoardJsonContextTests
{
    private static readonly JsonSerializerOptions Json = BoardDescriptor.Json;

    // Every type a file can hold: reachable from its top levels through the metadata (the types of the properties a file
    // sets, list elements, nullables); computed properties (get only) are written, never read, and are left out.
    private static IReadOnlyList<Type> BoardTypes()
    {
        var seen = new HashSet<Type>();
        var pending = new Queue<Type>([typeof(BoardDescriptor), typeof(BoardFile.MultiCoreJson)]);
        while (pending.TryDequeue(out Type? t))
        {
            t = Nullable.GetUnderlyingType(t) ?? t;
            if (!seen.Add(t)) continue;
            JsonTypeInfo info = Json.GetTypeInfo(t);
            if (info.Kind == JsonTypeInfoKind.Object) foreach (JsonPropertyInfo p in info.Properties.Where(p => p.Set is not null)) pending.Enqueue(p.PropertyType);
            if (info.ElementType is { } element) pending.Enqueue(element);
        }
        return [.. seen];
    }

    [Test]
    public void EveryEnumReadsAndWritesItsKebabCaseName()
    {
        Type[] enums = [.. BoardTypes().Where(t => t.IsEnum)];
        Assert.That(enums, Has.Length.GreaterThanOrEqualTo(10), "the walk found the board's enums");
        Assert.Multiple(() =>
        {
            foreach (Type e in enums)
            {
                JsonTypeInfo info = Json.GetTypeInfo(e);
                object last = Enum.GetValues(e).GetValue(Enum.GetValues(e).Length - 1)!;
                string name = JsonNamingPolicy.KebabCaseLower.ConvertName(last.ToString()!);
                Assert.That(JsonSerializer.Serialize(last, info), Is.EqualTo($"\"{name}\""), e.Name);
                Assert.That(JsonSerializer.Deserialize($"\"{name}\"", info), Is.EqualTo(last), e.Name);
                Assert.That(() => JsonSerializer.Deserialize("1", info), Throws.InstanceOf<JsonException>(), $"{e.Name}: numbers are refused");
            }
        });
    }

    [Test]
    public void APropertyLeftOutKeepsItsInitializer()
    {
        Type[] objects = [.. BoardTypes().Where(t => Json.GetTypeInfo(t).Kind == JsonTypeInfoKind.Object)];
        Assert.That(objects, Has.Length.GreaterThanOrEqualTo(10), "the walk found the board's records");
        int compared = 0;
        Assert.Multiple(() =>
        {
            foreach (Type t in objects)
            {
                JsonTypeInfo info = Json.GetTypeInfo(t);
                object read = JsonSerializer.Deserialize(RequiredOnly(t).ToJsonString(), info)!;
                object built = Activator.CreateInstance(t)!; // the initializers, as C# runs them
                foreach (JsonPropertyInfo p in info.Properties.Where(p => !p.IsRequired && p.Set is not null))
                {
                    Assert.That(Text(p.Get!(read), p), Is.EqualTo(Text(p.Get!(built), p)), $"{t.Name}.{p.Name} when the file leaves it out");
                    compared++;
                }
            }
        });
        Assert.That(compared, Is.GreaterThanOrEqualTo(50), "properties compared");
    }

    private static string Text(object? value, JsonPropertyInfo p) =>
        p.CustomConverter is null ? JsonSerializer.Serialize(value, Json.GetTypeInfo(p.PropertyType)) : $"{value}";

    // An object with only the required properties, each with some value its type reads.
    private static JsonObject RequiredOnly(Type t)
    {
        var o = new JsonObject();
        foreach (JsonPropertyInfo p in Json.GetTypeInfo(t).Properties.Where(p => p.IsRequired)) o[p.Name] = Some(p.PropertyType);
        return o;
    }

    private static JsonNode Some(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        JsonTypeInfo info = Json.GetTypeInfo(t);
        if (t == typeof(string)) return "x";
        if (t == typeof(bool)) return false;
        if (t.IsEnum) return JsonNode.Parse(JsonSerializer.Serialize(Enum.GetValues(t).GetValue(0), info))!;
        if (info.Kind == JsonTypeInfoKind.Enumerable) return new JsonArray();
        if (info.Kind == JsonTypeInfoKind.Object) return RequiredOnly(t);
        return 1;
    }
}
