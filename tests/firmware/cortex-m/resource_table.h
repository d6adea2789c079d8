/*
 * The resource table's wire layout, written for this firmware from the kernel's description in
 * include/linux/remoteproc.h (struct resource_table, fw_rsc_hdr, fw_rsc_vdev, fw_rsc_vdev_vring, fw_rsc_trace,
 * enum fw_resource_type; read in torvalds/linux). Every struct is packed and little-endian, as the kernel's are.
 * Where the kernel ends a struct with a flexible array (resource_table.offset[], fw_rsc_vdev.vring[]), this firmware
 * knows the count and gives the array its size, so the whole table is one initialised C object.
 */
#ifndef CORTEX_M_RESOURCE_TABLE_H
#define CORTEX_M_RESOURCE_TABLE_H

#include <stdint.h>

/* enum fw_resource_type */
#define RSC_CARVEOUT 0u
#define RSC_DEVMEM 1u
#define RSC_TRACE 2u
#define RSC_VDEV 3u

/* The host allocates the address and writes it back (FW_RSC_ADDR_ANY, (-1) in the kernel's header). */
#define FW_RSC_ADDR_ANY 0xFFFFFFFFu

/* include/uapi/linux/virtio_ids.h: VIRTIO_ID_RPMSG; drivers/rpmsg/virtio_rpmsg_bus.c: VIRTIO_RPMSG_F_NS is bit 0. */
#define VIRTIO_ID_RPMSG 7u
#define VIRTIO_RPMSG_F_NS 0u

/* struct resource_table, with its offset array sized */
#define RESOURCE_TABLE_HEADER(entries) \
    struct {                           \
        uint32_t ver;                  \
        uint32_t num;                  \
        uint32_t reserved[2];          \
        uint32_t offset[entries];      \
    } __attribute__((packed))

/* struct fw_rsc_vdev_vring: 20 bytes */
struct fw_rsc_vdev_vring {
    uint32_t da;
    uint32_t align;
    uint32_t num;
    uint32_t notifyid;
    uint32_t pa;
} __attribute__((packed));

/* struct fw_rsc_hdr followed by struct fw_rsc_vdev with two vrings and no config space */
struct rsc_vdev_two_vrings {
    uint32_t type;
    uint32_t id;
    uint32_t notifyid;
    uint32_t dfeatures;
    uint32_t gfeatures;
    uint32_t config_len;
    uint8_t status;
    uint8_t num_of_vrings;
    uint8_t reserved[2];
    struct fw_rsc_vdev_vring vring[2];
} __attribute__((packed));

/* struct fw_rsc_hdr followed by struct fw_rsc_trace */
struct rsc_trace {
    uint32_t type;
    uint32_t da;
    uint32_t len;
    uint32_t reserved;
    uint8_t name[32];
} __attribute__((packed));

/* Sizes the kernel's layout fixes: a mismatch here is a mismatch with every host that reads the table. */
_Static_assert(sizeof(struct fw_rsc_vdev_vring) == 20, "fw_rsc_vdev_vring is 20 bytes");
_Static_assert(sizeof(struct rsc_vdev_two_vrings) == 4 + 24 + 2 * 20, "type + fw_rsc_vdev + two vrings");
_Static_assert(sizeof(struct rsc_trace) == 4 + 44, "type + fw_rsc_trace");

#endif
