/*
 * The Cortex-M4's vector table and reset handler: the smallest image a real core would boot. The M4 of an STM32MP15
 * fetches its initial stack pointer and reset vector from device address 0 (RETRAM, see stm32mp15-m4.ld).
 *
 * Nothing here zeroes .bss or copies .data: the image is linked to run where it is loaded (every section's load
 * address is its run address), and the host's loader zeroes what a segment's memory size has beyond its file size,
 * as Linux's rproc_elf_load_segments does.
 */
#include <stdint.h>

extern char trace_buffer[2048];
extern uint32_t __stack_top; /* stm32mp15-m4.ld: the top of MCU SRAM */

void reset_handler(void);
void default_handler(void);

/* The host reads the trace buffer while the core writes it: volatile, so every byte is stored, in order, and the
 * compiler does not turn the loop into a memcpy call this firmware has no library for. */
static void trace(const char *text)
{
    volatile char *out = trace_buffer;
    for (uint32_t i = 0; text[i] != '\0' && i < sizeof trace_buffer - 1; i++) out[i] = text[i];
}

void reset_handler(void)
{
    trace("ampcan cortex-m4 test firmware: up\n");
    for (;;) __asm__ volatile("wfi");
}

void default_handler(void)
{
    for (;;) __asm__ volatile("wfi");
}

/* Armv7-M: word 0 is the initial SP, then the 15 system exception vectors (0 where the architecture reserves one). */
__attribute__((section(".isr_vector"), used))
void (*const vector_table[16])(void) = {
    (void (*)(void))&__stack_top,
    reset_handler,
    default_handler, /* NMI */
    default_handler, /* HardFault */
    default_handler, /* MemManage */
    default_handler, /* BusFault */
    default_handler, /* UsageFault */
    0, 0, 0, 0,
    default_handler, /* SVCall */
    default_handler, /* DebugMonitor */
    0,
    default_handler, /* PendSV */
    default_handler, /* SysTick */
};
