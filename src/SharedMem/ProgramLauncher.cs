using System.Diagnostics;

namespace AmpCan.SharedMem;

/// <summary>Builds the start information for another .NET program of this product (an apphost or an assembly).</summary>
public static class ProgramLauncher
{
    /// <summary>
    /// Start information for <paramref name="program"/>: an executable runs as is; for an assembly (.dll) its apphost
    /// next to it is preferred, else the dotnet host running this process.
    /// </summary>
    public static ProcessStartInfo StartInfo(string program, params IEnumerable<string> arguments)
    {
        var psi = new ProcessStartInfo { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        if (program.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            string apphost = program[..^4];
            if (File.Exists(apphost)) psi.FileName = apphost;
            else
            {
                psi.FileName = DotnetHost();
                psi.ArgumentList.Add(program);
            }
        }
        else psi.FileName = program;
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        return psi;
    }

    private static string DotnetHost()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromEnv) && File.Exists(fromEnv)) return fromEnv;
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }
}
