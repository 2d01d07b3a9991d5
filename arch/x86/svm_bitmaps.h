/*
 * svm_bitmaps.h - SVM MSR permission map (MSRPM) and I/O permission map
 * (IOPM) helpers.
 *
 * Sources (AMD64 Architecture Programmer's Manual Vol. 2, pub. 24593):
 *   15.10.1 "I/O Permissions Map"   - IOPM layout, one bit per port
 *   15.10.2 "IN and OUT Behavior"   - multi-byte accesses check every bit
 *   15.11   "MSR Intercepts"        - MSRPM layout, Table 15-8 ranges
 *
 * Both maps are read by the CPU by physical address when VMRUN runs with
 * the IOIO_PROT / MSR_PROT intercepts set (VMCB IOPM_BASE_PA at 040h,
 * MSRPM_BASE_PA at 048h).  They must be 4 KiB aligned, physically
 * contiguous and live in write-back memory; allocating and addressing them
 * is the caller's job.  These helpers only manipulate the bits, so they
 * stay pure and can be unit-tested on the host.
 *
 * A set bit means "intercept".  A freshly zeroed map therefore lets every
 * covered MSR / port through; a map filled with 0xFF intercepts everything.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes; the hardware reads 8 KiB (2 pages): three 2 KiB vectors plus a
 * reserved fourth one (APM 15.11, Table 15-8). */
#define MSRPM_SIZE 8192u
/* 12 KiB (3 pages): 64 Ki bits, one per port, plus the first 3 bits of the
 * third page for 2- and 4-byte accesses that run past port FFFFh
 * (APM 15.10.1). */
#define IOPM_SIZE 12288u

/* Number of IOPM bits the hardware actually consults (64K + 3). */
#define IOPM_BITS (0x10000u + 3u)

/*
 * Byte offset and bit (read bit; write bit = read bit + 1) of an MSR in the
 * MSRPM.  false for MSRs outside the three covered ranges
 * (0000_0000-0000_1FFF at 000h, C000_0000-C000_1FFF at 800h,
 * C001_0000-C001_1FFF at 1000h), which always cause #VMEXIT when MSR_PROT
 * is set.  byte / read_bit may be NULL.
 */
bool msrpm_locate(uint32_t msr, uint32_t *byte, unsigned *read_bit);

/* Sets or clears both intercept bits of msr; no-op for uncovered MSRs
 * (the hardware intercepts those unconditionally anyway). */
void msrpm_set(uint8_t *msrpm, uint32_t msr, bool intercept_read,
               bool intercept_write);

/* Whether RDMSR (write=false) / WRMSR (write=true) of msr exits, assuming
 * MSR_PROT is set.  true for uncovered MSRs. */
bool msrpm_intercepts(const uint8_t *msrpm, uint32_t msr, bool write);

/*
 * Sets or clears the bits of ports port..port+size-1 for an access of size
 * 1, 2 or 4 bytes.  Ports past FFFFh land in the 3 extra bits (IOPM bit
 * 10000h..10002h).  Other sizes are a no-op.
 */
void iopm_set(uint8_t *iopm, uint16_t port, unsigned size, bool intercept);

/*
 * Whether an access of size bytes at port exits, assuming IOIO_PROT is set:
 * true if any covered port's bit is set (APM 15.10.2).  Sizes other than
 * 1, 2 or 4 give true, so a caller bug errs on the side of intercepting.
 */
bool iopm_intercepts(const uint8_t *iopm, uint16_t port, unsigned size);
