using System.Text.Json.Nodes;

namespace AmpCan.Tests.Remoteproc;

/// <summary>Board JSON with fields changed at paths such as <c>regions[1].size</c> or <c>cores[0].core.mechanism</c>.</summary>
internal static class BoardJsonEdit
{
    /// <summary><paramref name="json"/> with each path set to its JSON value (null: the key removed).</summary>
    public static string With(string json, params (string Path, string? Json)[] changes)
    {
        JsonNode root = JsonNode.Parse(json, documentOptions: new() { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!;
        foreach ((string path, string? value) in changes)
        {
            string[] parts = path.Split('.');
            JsonNode parent = parts[..^1].Aggregate(root, Step);
            string last = parts[^1];
            if (last.EndsWith(']'))
            {
                (string key, int index) = Indexed(last);
                JsonArray array = parent[key]!.AsArray();
                if (index == array.Count) array.Add(JsonNode.Parse(value!));
                else array[index] = JsonNode.Parse(value!);
            }
            else if (value is null) parent.AsObject().Remove(last);
            else parent[last] = JsonNode.Parse(value);
        }
        return root.ToJsonString();
    }

    private static JsonNode Step(JsonNode node, string part)
    {
        if (!part.EndsWith(']')) return node[part]!;
        (string key, int index) = Indexed(part);
        return node[key]![index]!;
    }

    private static (string Key, int Index) Indexed(string part)
    {
        int open = part.IndexOf('[', StringComparison.Ordinal);
        return (part[..open], int.Parse(part[(open + 1)..^1], System.Globalization.CultureInfo.InvariantCulture));
    }
}
