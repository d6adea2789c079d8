/*
 * The resource table the host reads from this image's .resource_table section (Linux's rproc_elf_load_rsc_table
 * finds it by that name): one rpmsg vdev with two vrings and one trace buffer.
 *
 * The vrings sit at fixed device addresses, the ones STM32MP157C-DK2's device tree reserves for them
 * (arch/arm/boot/dts/st/stm32mp15xx-dkx.dtsi: vdev0vring0@10040000 and vdev0vring1@10041000, 0x1000 bytes each;
 * the M4 sees 0x10000000.. at the same address the A7 does, stm32mp151.dtsi's mlahb dma-ranges). On this board
 * Linux's rproc_alloc_vring accepts a fixed da only inside the carveout named vdev0vringN (rproc_check_carveout_da
 * in remoteproc_core.c), so a table for it names those addresses or FW_RSC_ADDR_ANY. Notify ids 0 and 1 are the IPCC
 * channels "vq0" and "vq1" of the board's m4_rproc node (mboxes = <&ipcc 0>, <&ipcc 1>, ...).
 */
#include <stddef.h>
#include "resource_table.h"

#define VRING_ALIGN 16u
#define VRING_NUM 16u /* buffers per ring: a power of two, as virtio requires */

/* The remote's log, read by the host as text (Linux shows it as remoteproc's debugfs trace0). In .bss: the loader
 * zeroes it, the firmware writes it. */
char trace_buffer[2048];

struct resource_table_image {
    RESOURCE_TABLE_HEADER(2) header;
    struct rsc_vdev_two_vrings rpmsg;
    struct rsc_trace trace;
} __attribute__((packed));

/* used: nothing in the firmware reads it, the host does. */
__attribute__((section(".resource_table"), used, aligned(4)))
struct resource_table_image resource_table = {
    .header = {
        .ver = 1,
        .num = 2,
        .offset = {
            offsetof(struct resource_table_image, rpmsg),
            offsetof(struct resource_table_image, trace),
        },
    },
    .rpmsg = {
        .type = RSC_VDEV,
        .id = VIRTIO_ID_RPMSG,
        .notifyid = 2, /* the vdev's own id, apart from its vrings'; Linux does not kick it */
        .dfeatures = 1u << VIRTIO_RPMSG_F_NS,
        .gfeatures = 0, /* the host writes the accepted features here */
        .config_len = 0,
        .status = 0, /* and its virtio status here */
        .num_of_vrings = 2,
        .vring = {
            { .da = 0x10040000u, .align = VRING_ALIGN, .num = VRING_NUM, .notifyid = 0, .pa = 0 },
            { .da = 0x10041000u, .align = VRING_ALIGN, .num = VRING_NUM, .notifyid = 1, .pa = 0 },
        },
    },
    .trace = {
        .type = RSC_TRACE,
        .da = (uint32_t)trace_buffer,
        .len = sizeof trace_buffer,
        .name = "cm4_log",
    },
};
