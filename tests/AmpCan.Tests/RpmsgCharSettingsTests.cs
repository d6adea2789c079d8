using AmpCan.Host.CharDevices;
using AmpCan.Host.Commands;
using AmpCan.RpmsgChar.FrontEnds;
using Microsoft.Extensions.Configuration;

namespace AmpCan.Tests.Host;

/// <summary>The rpmsg_char front end's configuration: defaults as udev and devtmpfs give the kernel's devices, errors naming the key.</summary>
public class RpmsgCharSettingsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static string? NoEnvironment(string _) => null;

    [Test]
    public void ByDefaultAutoRootOnlyUnderRunAmpcanOrSystemdsRuntimeDirectory()
    {
        RpmsgCharSettings s = RpmsgCharSettings.From(Config(), NoEnvironment);
        Assert.That((s.FrontEnd, s.Directory, s.Access), Is.EqualTo((RpmsgCharFrontEndKind.Auto, "/run/ampcan/rpmsg", new RpmsgCharFileAccess(0, 0, 0x180))));
        RpmsgCharSettings systemd = RpmsgCharSettings.From(Config(), v => v == "RUNTIME_DIRECTORY" ? "/run/ampcan-a:/run/other" : null);
        Assert.That(systemd.Directory, Is.EqualTo("/run/ampcan-a/rpmsg"));
    }

    [Test]
    public void OwnerGroupModeAndDirectoryAreTakenAsGiven()
    {
        RpmsgCharSettings s = RpmsgCharSettings.From(Config(("AmpCan:RpmsgChar:FrontEnd", "FUSE"), ("AmpCan:RpmsgChar:Directory", "/srv/rpmsg"),
            ("AmpCan:RpmsgChar:Owner", "root"), ("AmpCan:RpmsgChar:Group", "1234"), ("AmpCan:RpmsgChar:Mode", "0660")), NoEnvironment);
        Assert.That((s.FrontEnd, s.Directory, s.Access), Is.EqualTo((RpmsgCharFrontEndKind.Fuse, "/srv/rpmsg", new RpmsgCharFileAccess(0, 1234, 0x1B0))));
    }

    [TestCase("FrontEnd", "cusee", "configuration AmpCan:RpmsgChar:FrontEnd: 'cusee' is not one of auto, cuse, fuse, none")]
    [TestCase("Mode", "0999", "configuration AmpCan:RpmsgChar:Mode: '0999' is not a permission in octal")]
    [TestCase("Mode", "1777", "configuration AmpCan:RpmsgChar:Mode: '1777' is not a permission in octal")]
    [TestCase("Owner", "no-such-user-here", "configuration AmpCan:RpmsgChar:Owner: no user 'no-such-user-here' in /etc/passwd")]
    public void AWrongValueIsAnErrorNamingItsKey(string key, string value, string message) =>
        Assert.That(() => RpmsgCharSettings.From(Config(($"AmpCan:RpmsgChar:{key}", value)), NoEnvironment),
            Throws.TypeOf<ConfigurationValueException>().With.Message.StartsWith(message));
}
