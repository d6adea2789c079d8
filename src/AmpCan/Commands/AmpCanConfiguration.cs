using AmpCan.Host.Service;
using AmpCan.Remoteproc.Boards;
using AmpCan.SharedMem.Doorbells;
using Microsoft.Extensions.Configuration;

namespace AmpCan.Host.Commands;

/// <summary>A configuration value that cannot be used; the message names the key and the value.</summary>
public sealed class ConfigurationValueException(string message) : Exception(message);

/// <summary>
/// The configuration every command reads, from the same sources and in the same order as the generic host
/// (<c>appsettings.json</c>, <c>appsettings.{Environment}.json</c> in the working directory, then environment variables
/// such as <c>AmpCan__Board</c>), under the section <c>AmpCan</c>; a value given on the command line wins over it.
/// </summary>
public static class AmpCanConfiguration
{
    /// <summary>Reads the configuration sources.</summary>
    public static IConfiguration Load()
    {
        string environment = Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Production";
        return new ConfigurationBuilder()
            .SetBasePath(Directory.GetCurrentDirectory())
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .Build();
    }

    /// <summary>
    /// The service's options: the command line's values where given, else the configuration's, else the defaults.
    /// </summary>
    /// <exception cref="ConfigurationValueException">A configured value is not one of the choices; the key is named.</exception>
    public static AmpCanOptions Resolve(IConfiguration configuration, string? board, RemoteKind? remote, NotificationMode? mode)
    {
        IConfigurationSection s = configuration.GetSection("AmpCan");
        return new AmpCanOptions
        {
            Board = board ?? NonEmpty(s, "Board") ?? "sim",
            Remote = remote ?? Enum<RemoteKind>(s, "Remote"),
            Mode = mode ?? Enum<NotificationMode>(s, "Mode"),
            TraceDirectory = NonEmpty(s, TraceCommand.DirectoryKey) ?? ".",
        };
    }

    private static string? NonEmpty(IConfigurationSection s, string key) => string.IsNullOrWhiteSpace(s[key]) ? null : s[key];

    private static T? Enum<T>(IConfigurationSection s, string key) where T : struct, Enum
    {
        string? text = NonEmpty(s, key);
        if (text is null) return null;
        if (CommonOptions.TryParseEnum(text, out T v)) return v;
        throw new ConfigurationValueException($"configuration {s.Path}:{key} (environment {s.Path}__{key}): '{text}' is not one of {CommonOptions.Choices<T>()}");
    }
}
