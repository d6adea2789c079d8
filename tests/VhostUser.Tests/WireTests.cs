using AmpCan.VhostUser.Wire;

namespace AmpCan.Tests.VhostUser;

/// <summary>The wire layouts of vhost-user.rst, against literal bytes (little-endian, as QEMU sends them on x86 and Arm).</summary>
public sealed class WireTests
{
    [Test]
    public void Header_is_request_flags_size()
    {
        byte[] bytes = [0x0b, 0, 0, 0, 0x09, 0, 0, 0, 0x08, 0, 0, 0];
        VhostUserHeader h = VhostUserHeader.Read(bytes);
        Assert.That(h, Is.EqualTo(new VhostUserHeader(11, VhostUserHeaderFlags.Version1 | VhostUserHeaderFlags.NeedReply, 8)));
        Assert.That(h.Version, Is.EqualTo(1u));
        Assert.That(h.NeedsReply, Is.True);
        byte[] reply = new byte[12];
        VhostUserHeader.ReplyTo(1, 8).Write(reply);
        Assert.That(reply, Is.EqualTo(new byte[] { 1, 0, 0, 0, 0x05, 0, 0, 0, 8, 0, 0, 0 }), "GET_FEATURES reply: version 1 | reply bit");
    }

    [Test]
    public void Vring_state_is_index_then_num()
    {
        byte[] bytes = [1, 0, 0, 0, 0x40, 0, 0, 0];
        Assert.That(VringState.Read(bytes), Is.EqualTo(new VringState(1, 64)));
        byte[] back = new byte[8];
        new VringState(1, 64).Write(back);
        Assert.That(back, Is.EqualTo(bytes));
    }

    [Test]
    public void Vring_address_is_40_bytes_with_no_size_field()
    {
        byte[] bytes =
        [
            2, 0, 0, 0, 0, 0, 0, 0,                                  // index 2, flags 0
            0x00, 0x10, 0x00, 0x34, 0x12, 0x7f, 0x00, 0x00,          // desc  0x7f1234001000
            0x00, 0x30, 0x00, 0x34, 0x12, 0x7f, 0x00, 0x00,          // used  0x7f1234003000
            0x00, 0x20, 0x00, 0x34, 0x12, 0x7f, 0x00, 0x00,          // avail 0x7f1234002000
            0, 0, 0, 0, 0, 0, 0, 0,                                  // log
        ];
        var a = new VringAddress(2, 0, 0x7f12_3400_1000, 0x7f12_3400_3000, 0x7f12_3400_2000, 0);
        Assert.That(VringAddress.Read(bytes), Is.EqualTo(a));
        byte[] back = new byte[VringAddress.Length];
        a.Write(back);
        Assert.That(back, Is.EqualTo(bytes));
    }

    [Test]
    public void Memory_table_is_count_padding_then_32_byte_regions()
    {
        // QEMU 11.1 for a 512 MiB guest: one region at guest 0, 0x20000000 bytes, mmap offset 0.
        byte[] bytes =
        [
            1, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0x20, 0, 0, 0, 0,
            0, 0, 0, 0x40, 0x12, 0x7f, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0,
        ];
        Assert.That(MemoryTableDescription.ReadCount(bytes), Is.EqualTo(1u));
        var r = new MemoryRegionDescription(0, 0x2000_0000, 0x7f12_4000_0000, 0);
        Assert.That(MemoryTableDescription.ReadRegion(bytes, 0), Is.EqualTo(r));
        byte[] back = new byte[MemoryTableDescription.LengthOf(1)];
        Assert.That(MemoryTableDescription.Write(back, [r]), Is.EqualTo(40));
        Assert.That(back, Is.EqualTo(bytes));
        Assert.That(MemoryTableDescription.LengthOf(MemoryTableDescription.MaxRegions), Is.EqualTo(264));
    }

    [Test]
    public void Vring_file_index_has_the_index_in_bits_0_to_7_and_no_fd_in_bit_8()
    {
        Assert.That(VringFileIndex.TryDecode(0x101, out VringFileIndex f), Is.True);
        Assert.That(f, Is.EqualTo(new VringFileIndex(1, true)));
        Assert.That(new VringFileIndex(2, false).Encode(), Is.EqualTo(2UL));
        Assert.That(VringFileIndex.TryDecode(0x200, out _), Is.False, "bit 9 is not defined");
    }

    [Test]
    public void Config_access_is_offset_size_flags_then_data()
    {
        byte[] bytes = [4, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0];
        Assert.That(ConfigSpaceHeader.Read(bytes), Is.EqualTo(new ConfigSpaceHeader(4, 2, ConfigSpaceHeader.MigrationFlag)));
        byte[] back = new byte[12];
        new ConfigSpaceHeader(4, 2, 1).Write(back);
        Assert.That(back, Is.EqualTo(bytes));
    }

    [Test]
    public void Request_and_feature_codes_are_the_specs()
    {
        Assert.That((uint)VhostUserRequest.SetVringEnable, Is.EqualTo(18u));
        Assert.That((uint)VhostUserRequest.GetConfig, Is.EqualTo(24u));
        Assert.That((uint)VhostUserRequest.ResetDevice, Is.EqualTo(34u));
        Assert.That((uint)VhostUserRequest.SetBackendReqFd, Is.EqualTo(21u));
        Assert.That((ulong)(VhostUserProtocolFeatures.ReplyAck | VhostUserProtocolFeatures.Config | VhostUserProtocolFeatures.ResetDevice), Is.EqualTo(0x2208UL));
    }
}
