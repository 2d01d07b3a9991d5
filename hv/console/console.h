/* The serial line shared by L1 and the hypervisor's debug shell.
 *
 * With debug_shell = yes the hypervisor reads the UART's input, and to
 * see every typed byte before L1 does it intercepts L1's accesses to the
 * receive/transmit register (base+0), the interrupt identification
 * register (base+2: a byte L1 is owed must show there, or Linux's handler
 * returns without reading it) and the line status register (base+5) in
 * the IOPM; every other register passes through. Typed bytes
 * go through the escape detector (hv/console/console_mux.h) and on to L1 (its
 * intercepted reads of RBR and LSR.DR are answered from a FIFO) or to the
 * shell. Why intercept rather than only poll: Linux's 8250 driver reads
 * RBR from its interrupt handler as soon as a byte arrives, so a
 * hypervisor that only polled would almost never see the escape, and a
 * byte it did take would be lost to L1.
 *
 * Polling covers the L1s that never read the port (our L1 test program):
 * the boot CPU counts its exits down (struct vcpu console_countdown, one
 * decrement and branch in the run loop) and every CONSOLE_POLL_EVERY
 * exits looks at LSR. It takes bytes then only while L1 has the UART's
 * receive interrupt off: with it on, L1's handler reads them through the
 * intercepted ports, and a byte the poll took would raise no interrupt for
 * L1. Other CPUs never poll (their countdown starts at 0 and wraps).
 *
 * With debug_shell = no nothing is intercepted and nothing is read. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "boot/config.h"
#include "hv/core/vcpu.h"

#define CONSOLE_POLL_EVERY 256

/* At start, before any vCPU runs: sets the IOPM bits (L0's IOPM for L1). */
void console_init(const struct hv_config *cfg, uint8_t *iopm);
/* The run loop's countdown reached 0. */
void console_poll(struct vcpu *v);
/* An intercepted 8-bit IN or OUT of L1 on the console's ports: true if
 * handled (RAX updated for IN), false for ports it does not own. */
bool console_ioio(struct vcpu *v, uint16_t port, bool in, uint64_t *rax);
/* L1 used string I/O (INS/OUTS) on one of the console's ports, which
 * console_ioio does not emulate: true if port is one of them; the shell
 * then gives up the port for good (IOPM bits cleared) and the caller
 * re-executes the instruction natively. */
bool console_give_up(uint16_t port);
/* The shell's output (hv/console/shell.c). */
void console_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The shell's `continue`: L1 gets the line back. */
void console_return_to_l1(void);
/* The config's debug_shell (also opens HV_CALL_STATS_TABLE to CPL 3). */
bool console_debug_shell(void);
/* TSC ticks per second (calibrated against the PIT at start; 0 unknown). */
uint64_t console_tsc_hz(void);
