/* Writes the generated part of the seed corpus, tests/fuzz/corpus/TARGET/
 * (make fuzz-seeds; the files are committed). Each seed is a meaningful
 * input in the target's own format (see each fuzz_TARGET.c): real store
 * instructions, configuration files, hypercalls, the unit tests' valid
 * VMCB12s, NPT12 tables with large pages. Reproducers of findings are
 * committed beside them by hand (regress-*). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/x86/svm.h"
#include "arch/x86/vmcb.h"
#include "hv/exit/hypercall_abi.h"
#include "tests/unit/vmcb12_fixture.h"
#include "tests/fuzz/vmexit_codes.h"

/* --- a growing byte buffer ------------------------------------------- */
static uint8_t buf[1 << 16];
static size_t len;

static void put(const void *p, size_t n) { memcpy(buf + len, p, n); len += n; }
static void u8(uint8_t v) { put(&v, 1); }
static void u16(uint16_t v) { put(&v, 2); }
static inline void u32(uint32_t v) { put(&v, 4); }
static void u64(uint64_t v) { put(&v, 8); }
static void bytes(const char *s) { put(s, strlen(s)); }

static void seed(const char *target, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fuzz/corpus/%s", target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "tests/fuzz/corpus/%s/%s", target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
        perror(path);
        exit(1);
    }
    len = 0;
}

/* --- store_decode: flags (bit 0: 64-bit code), then the bytes --------- */
static void store(const char *name, bool code64, const char *insn, size_t n)
{
    u8(code64);
    put(insn, n);
    seed("store_decode", name);
}
#define STORE(name, code64, lit) store(name, code64, lit, sizeof lit - 1)

static void seeds_store_decode(void)
{
    STORE("mov-eax-to-rdx", true, "\x89\x02");                           /* mov %eax,(%rdx) */
    STORE("movl-icr-imm", true, "\xc7\x80\x00\x03\x00\x00\x00\x45\x00\x00"); /* movl $0x4500,0x300(%rax) */
    STORE("mov-r8d-sib", true, "\x44\x89\x04\x25\x00\x03\xe0\xfe");     /* mov %r8d,0xfee00300 */
    STORE("mov-rip-rel", true, "\x89\x05\x10\x00\x00\x00");             /* mov %eax,0x10(%rip) */
    STORE("xchg-linux", true, "\x87\x07");                               /* xchg %eax,(%rdi) */
    STORE("mov-moffs64", true, "\xa3\x00\x03\xe0\xfe\x00\x00\x00\x00");  /* movabs %eax,0xfee00300 */
    STORE("mov-ah", false, "\x88\x60\x10");                              /* mov %ah,0x10(%eax) */
    STORE("movw-16bit-addr", false, "\x67\x66\xc7\x47\x10\x34\x12");     /* movw $0x1234,0x10(%bx) */
    STORE("mov-fs-rex-w", true, "\x64\x48\x89\x0c\x24");                 /* mov %rcx,%fs:(%rsp) */
    STORE("mov32-abs", false, "\x89\x15\x00\x03\xe0\xfe");               /* mov %edx,0xfee00300 */
}

/* --- config: files as they are ---------------------------------------- */
static void seeds_config(void)
{
    bytes("# every key, LF\n"
          "serial_port = 0x2f8\nserial_baud = 9600\nlog_level = debug\nmemory_mb = 128\n"
          "next_stage = /EFI/debian/grubx64.efi\ncmdline = root=/dev/sda1 console=ttyS0 # kept\n"
          "on_fault = reset\ndebug_crash = no\nprint_stats = yes\nhypervisor = on\n");
    seed("config", "all-keys");
    bytes("\xEF\xBB\xBF" "serial_port = 1016\r\nlog_level = WARN # comment\r\n"
          "next_stage = none\r\nmemory_mb = 1024\r\nmemory_mb = 8\r\nbad line\r\n"
          "unknown = 1\r\n = 3\r\nserial_baud = 115201\r\nhypervisor =\r\n");
    seed("config", "crlf-bom-errors");
    bytes("next_stage = \\vmlinuz.efi\ncmdline = initrd=\\initrd.img quiet\nprint_stats = TRUE");
    seed("config", "linux-no-final-newline");
}

/* --- hypercall: see fuzz_hypercall.c's load_call ------------------------ */
static void hypercall_at(uint8_t flags, uint8_t fn, uint16_t text_at, const char *text,
                         uint64_t rbx, uint64_t rcx, uint64_t rip)
{
    u8(flags);
    u8(fn);
    u16(text_at);
    u8((uint8_t)strlen(text));
    bytes(text);
    u8(0x40);          /* rbx raw, in the RAM when it is LOG's buffer */
    u64(rbx);
    u64(rcx);          /* raw */
    u64(0x1111);       /* rdx */
    u64(0x2222);       /* rsi */
    u64(0x3333);       /* r15 */
    u64(rip);
    u64(0x7000);       /* rsp */
    if (flags & 0x02)
        u64(rip + 3);  /* nrip */
}

static void hypercall(uint8_t flags, uint8_t fn, uint16_t text_at, const char *text,
                      uint64_t rbx, uint64_t rcx)
{
    hypercall_at(flags, fn, text_at, text, rbx, rcx, 0x401000);
}

static void seeds_hypercall(void)
{
    u16(5); u16(3); u16(1);
    hypercall(0, HV_CALL_VERSION, 0, "", 0, 0);
    hypercall(0x02, HV_CALL_LOG, 0x100, "hello from L1\n", 0x100, 14);
    hypercall(0, HV_CALL_STATS, 0, "", 0x72, 0);
    hypercall(0x04, HV_CALL_MEMINFO, 0, "", 0, 0); /* with TF */
    hypercall(0x01, HV_CALL_LOG, 0x100, "user mode", 0x100, 9);
    seed("hypercall", "each-call");
    /* Findings: a VMMCALL that ends at the top of the address space made
     * the hypervisor stop (its next RIP, 0, read as "length unknown"); in
     * 32-bit code RIP went past 4 GiB instead of wrapping. */
    u16(0); u16(0); u16(0);
    hypercall_at(0, HV_CALL_VERSION, 0, "", 0, 0, 0xFFFFFFFFFFFFFFFDull);
    seed("hypercall", "regress-vmmcall-ends-at-2-64");
    u16(0); u16(0); u16(0);
    hypercall_at(0x40, HV_CALL_VERSION, 0, "", 0, 0, 0xFFFFFFFEull);
    seed("hypercall", "regress-vmmcall-wraps-at-4g-code32");
}

/* --- npt02: see fuzz_npt02.c --------------------------------------------- */
enum { OP_WRITE = 0, OP_FAULT = 3, OP_RESET = 6, OP_NPT01 = 7 };
#define NL 0x007 /* P|W|U */
#define NPT_A 0x020
#define NPT_D 0x040
#define NPT_PS 0x080

/* Entry `idx` of table `where` points at table page `to` (sel 0-7), or at
 * the address that sel and raw give (see entry_addr). */
static void npt_write(uint8_t where, uint8_t sel, uint16_t idx, uint16_t flags, uint64_t raw)
{
    u8(OP_WRITE); u8(where); u8(sel); u16(idx); u16(flags);
    if (sel % 16 >= 8)
        u64(raw);
}

/* A fault through the slots written last (how 0), access bits acc. */
static void npt_fault(uint8_t acc, uint16_t offset)
{
    u8(OP_FAULT); u8(0);
    u8(0); u8(1); u8(2); u8(3); /* each level's index from those writes */
    u16(offset);
    u8(acc);
}

/* T0 -> T1 -> T2 -> T3 through slot idx (the leaf is the caller's). */
static void npt_chain_flags(uint16_t idx, uint16_t flags)
{
    npt_write(0, 1, idx, flags, 0);
    npt_write(1, 2, idx, flags, 0);
    npt_write(2, 3, idx, flags, 0);
}

static void npt_chain(uint16_t idx) { npt_chain_flags(idx, NL); }

static void seeds_npt02(void)
{
    /* L1: NXE, 1 GiB pages, MAXPHYADDR 40, A/D kept; host NX; root T0. */
    u8(0x01 | 0x04 | 0x10 | (1 << 5)); u8(0x20); u8(0x80);
    npt_chain(5);
    npt_write(3, 12, 5, NL | NPT_A, 2); /* a 4 KiB leaf in L1 RAM at 2 GiB */
    npt_fault(0, 0x123);                 /* read */
    npt_fault(1, 0x123);                 /* write: D, then W */
    npt_fault(2, 0x10);                  /* fetch */
    npt_fault(4, 0x10);                  /* L2's own table walk */
    seed("npt02", "4k-path-read-write-fetch");

    u8(0x01 | 0x04 | 0x10 | (1 << 5)); u8(0x20 | 0x40); u8(0x80);
    npt_write(0, 1, 1, NL, 0);
    npt_write(1, 12, 1, NL | NPT_PS, 1);     /* 1 GiB leaf at 1 GiB */
    npt_write(1, 12, 2, NL | NPT_PS, 9);     /* 1 GiB leaf over the region */
    npt_write(1, 1, 3, NL, 0);               /* T1 -> T1: a loop */
    npt_fault(1, 0x7E003000 & 0xFFF);
    u8(OP_FAULT); u8(0x80); u64((2ull << 30) + 0x3E003000); u8(1); /* into the region */
    u8(OP_RESET);
    npt_fault(2, 0);
    seed("npt02", "large-pages-region-loop");

    /* No A/D maintenance, a write-protected NPT01 page, a decoy. */
    u8(0x01 | (1 << 5)); u8(0x00); u8(0x04);
    npt_chain(7);
    npt_write(3, 8, 7, NL, 3);                /* leaf in the region */
    npt_fault(1, 0);
    u8(OP_NPT01); u8(0x10 | 8); u64(3);       /* decoy there */
    npt_fault(1, 0);
    u8(OP_NPT01); u8(0x20 | 12); u64(2);      /* NPT01 W back at 2 GiB */
    seed("npt02", "region-decoy-no-ad");

    /* Another L1 CPU rewrites the leaf each time the walk sets its A bit:
     * four tries, then RETRY. */
    u8(0x01 | 0x10 | (1 << 5)); u8(0x20); u8(0x80);
    npt_chain_flags(9, NL | NPT_A);
    npt_write(3, 12, 9, NL, 2);
    u8(OP_FAULT); u8(0); u8(0); u8(1); u8(2); u8(3); u16(0); u8(1 | (4 << 4));
    for (int i = 0; i < 4; i++) {
        u8(3); u16(9); u64(0x80000000ull | NL | (i & 1 ? 0x08 : 0x10)); /* PWT, PCD */
    }
    seed("npt02", "ad-race-retry");
}

/* --- maps: see fuzz_maps.c ------------------------------------------------ */
enum { MAPS_MERGE = 0, MAPS_WRITE = 2, MAPS_MSR = 4, MAPS_IO = 5, MAPS_L0_WRITE = 6, MAPS_CPU1 = 0x80 };

/* Both maps enabled, MSRPM at RAM page msr_pg, IOPM at io_pg. */
static void maps_merge(uint8_t cpu, uint8_t en, uint8_t msr_pg, uint8_t io_pg)
{
    u8(MAPS_MERGE | cpu); u8(en); u8(msr_pg);
    if (!(en & 4))
        u8(io_pg);
}

static void maps_write(uint8_t cpu, uint32_t offset, uint8_t byte)
{
    u8(MAPS_WRITE | cpu); u8(0); u32(offset); u8(0); u8(byte);
}

static void seeds_maps(void)
{
    /* Both vCPUs merge the same maps; L1 sets an MSR bit (EFER's write
     * bit lives at 0x800 + 0x80 * 2 / 8 = 0x820) and a port bit; each
     * write drops both merges; they merge again. */
    maps_merge(0, 3, 0, 2);
    maps_merge(MAPS_CPU1, 3, 0, 2);
    maps_write(0, 0x820, 0x02);
    maps_write(MAPS_CPU1, 2 * 4096 + 0x10, 0x01); /* port 0x80 */
    u8(MAPS_MSR); u32(0xC0000080u);
    u8(MAPS_IO); u16(0x80); u8(0);
    maps_merge(0, 3, 0, 2);
    maps_merge(MAPS_CPU1, 1, 0, 0);
    seed("maps", "two-cpus-write-merged");

    /* Maps across the hypervisor's region (pages 8-9) and past the RAM's
     * end, an IOPM at the MSRPM's address, a 16-bit access at FFFFh. */
    maps_merge(0, 3, 7, 14);
    maps_merge(MAPS_CPU1, 3 | 4, 15, 0);
    u8(MAPS_IO); u16(0xFFFF); u8(1);
    u8(MAPS_MSR | MAPS_CPU1); u32(0xC0011FFFu);
    maps_write(0, 7 * 4096 + 4095, 0xAA);
    /* L0 writes a #VMEXIT into a VMCB12 that shares the IOPM's page. */
    maps_merge(0, 3, 0, 2);
    u8(MAPS_L0_WRITE | MAPS_CPU1); u8(0); u32(3 * 4096 + 0x70); u64(0x7B);
    seed("maps", "across-region-and-end");
}

/* --- vmrun / vmexit: see fuzz_vmrun.c and fuzz_vmexit.c --------------------- */
enum { VMRUN_WRITE = 0, VMRUN_RUN = 2, VMRUN_EXIT = 5 };
enum { BASE_LONG = 0, BASE_PROT32 = 1, BASE_REAL = 2, BASE_NP = 0x10 };

static void vmrun_header(uint8_t caps, uint8_t base_a, uint8_t base_b)
{
    u8(caps);
    u64((uint64_t)-1000); /* VMCB01's TSC offset */
    u8(base_a);
    u8(base_b);
}

static void vmrun_run(uint8_t slot, uint8_t flags, uint32_t clean)
{
    u8(VMRUN_RUN); u8(slot); u8(flags); u32(clean);
}

/* L1 writes n bytes of v at offset off of VMCB12 `slot` (where 0/1) or a
 * map (2: MSRPM A, 3: IOPM A, 4: MSRPM B, 5: IOPM B). */
static void vmrun_write(uint8_t where, uint16_t off, uint64_t v, unsigned n)
{
    u8(VMRUN_WRITE); u8(where); u16(off); u8((uint8_t)(n - 1));
    put(&v, n);
}

static void vmrun_exit(uint64_t rip) { u8(VMRUN_EXIT); u64(rip); u64(0x1234); }

static void seeds_vmrun(void)
{
    /* The three fixtures; a clean-bit-aware L1 (KVM-like): everything
     * clean but what it changed (RIP). */
    vmrun_header(0x01, BASE_LONG, BASE_PROT32);
    vmrun_run(0, 0, 0);
    vmrun_exit(0xFFFFFFFF81000010ull);
    vmrun_write(0, 0x578, 0xFFFFFFFF81000020ull, 8);  /* RIP */
    vmrun_run(0, 0, 0xFFFFFFFF);
    vmrun_exit(0xFFFFFFFF81000030ull);
    vmrun_run(1, 0, 0);
    seed("vmrun", "long-prot32-clean-bits");

    /* Real mode with nested paging, vGIF offered, L1 asks for it. */
    vmrun_header(0x02 | 0x01, BASE_REAL | BASE_NP, BASE_LONG | BASE_NP);
    vmrun_write(0, 0x063, 0x02, 1); /* int_ctl bit 25: VGIF_ENABLE */
    vmrun_run(0, 0, 0);
    vmrun_exit(0xFFF3);
    vmrun_write(2, 0x820, 0x03, 1); /* L1's MSRPM: intercept EFER */
    vmrun_run(0, 0, VMCB_CLEAN_INTERCEPTS | VMCB_CLEAN_IOPM);
    seed("vmrun", "real-np-vgif-map-write");

    /* Refusals and failures: no SVME, CPL 3, an unaligned VMCB12, one in
     * the hypervisor's region, ASID 0, an invalid EVENTINJ. */
    vmrun_header(0x00, BASE_LONG, BASE_LONG);
    vmrun_run(0, 0x02, 0);
    vmrun_run(0, 0x01, 0);
    vmrun_run(0x80 | 0x20, 0, 0);            /* page 0 + 8 */
    vmrun_run(0x80, 0, 0);                   /* page 12: the region */
    vmrun_write(0, 0x058, 0, 4);             /* ASID 0 */
    vmrun_run(0, 0, 0);
    vmrun_write(0, 0x058, 1, 4);
    vmrun_write(0, 0x0A8, 0x80000305ull, 4); /* EVENTINJ: exception, vector 5 */
    vmrun_run(0, 0, 0);
    vmrun_exit(0x2000);
    vmrun_write(0, 0x0A8, 0x80000502ull, 4); /* reserved type */
    vmrun_run(0, 0, 0xFFFFFFFF);
    seed("vmrun", "refusals-and-failures");
}

/* --- vmexit: see fuzz_vmexit.c ----------------------------------------------- */
enum { VX_WRITE = 0, VX_VMRUN = 1, VX_L2 = 2, VX_EXIT = 3 };

/* The fixture, with L1's intercepts toggled by the xors given. */
static void vmexit_header(uint8_t caps, uint8_t base, uint32_t xor_exc, uint32_t xor_misc1,
                          uint32_t xor_misc2)
{
    u8(caps); u64(0); u8(base);
    u32(xor_exc); u32(xor_misc1); u32(xor_misc2); u32(0); u8(0);
}

/* where: 0 VMCB12, 1 MSRPM, 2 IOPM, 3 a free page. */
static void vx_write(uint8_t where, uint16_t off, uint64_t v, unsigned n)
{
    u8(VX_WRITE); u8(where); u16(off); u8((uint8_t)(n - 1));
    put(&v, n);
}

/* L2 exits with code (flags f: 1/2 pick an L0 MSR for RCX, 0x80 an NMI
 * kick; for NPF the answers, see npf_answers). */
static void vx_exit(uint64_t code, uint8_t f, uint64_t info1, uint64_t info2)
{
    u8(VX_EXIT); u8(vmexit_code_index(code)); u8(f);
    u64(info1); u64(info2);
    u8(0); u32(0); /* no EXITINTINFO */
    u8(0);         /* nRIP: RIP + 0 (unused without NRIPS) */
}

static void vx_l2(uint8_t f, uint64_t rip, uint64_t rax, uint64_t rcx)
{
    u8(VX_L2); u8(f); u64(rip);
    if (f & 1)
        u8(0);      /* RAX: an address in L1's RAM */
    u64(rax); u64(rcx); u64(0x1000); /* CR2 */
}

static void seeds_vmexit(void)
{
    /* Long mode, L1 intercepts little: L0 handles CPUID, EFER, VMMCALL
     * (#UD), STGI/CLGI (L2's GIF), INVLPGA; then exits L1 wants. */
    vmexit_header(0x01, BASE_LONG, 0, VMCB_INTERCEPT1_IOIO_PROT, VMCB_INTERCEPT2_VMMCALL);
    u8(VX_VMRUN); u32(0);
    vx_exit(VMEXIT_CPUID, 0, 0, 0);
    vx_l2(0, 0xFFFFFFFF81000100ull, 0, 0xC0000080u);
    vx_exit(VMEXIT_MSR, 1, 1, 0);               /* WRMSR EFER */
    vx_exit(VMEXIT_CLGI, 0, 0, 0);
    vx_exit(VMEXIT_NMI, 0x80, 0, 0);            /* another CPU's kick */
    vx_exit(VMEXIT_EXCP_SX, 0, 0, 0);
    vx_exit(VMEXIT_VMMCALL, 0, 0, 0);
    vx_exit(VMEXIT_INVLPGA, 0, 0, 0);
    vx_exit(VMEXIT_NMI, 0, 0, 0);               /* held: L2's GIF is clear */
    vx_exit(VMEXIT_STGI, 0, 0, 0);              /* the NMI goes to L1 */
    u8(VX_VMRUN); u32(0xFFFFFFFF);
    vx_exit(VMEXIT_SHUTDOWN, 0, 0, 0);
    seed("vmexit", "l0-handles-then-l1");

    /* Nested paging: NPF to L1, a write to a merged map (the step), an
     * L2 VMSAVE into L1's memory. */
    vmexit_header(0x00, BASE_LONG | BASE_NP, 0, 0, 0);
    u8(VX_VMRUN); u32(0);
    vx_exit(VMEXIT_NPF, 0x02, 0x100000006ull, 0x5000);  /* NPT02 -> TO_L1 */
    u8(VX_VMRUN); u32(0);
    vx_exit(VMEXIT_NPF, 0x01 | 0x10, 0x100000006ull, 0x5000); /* map write: step */
    vx_exit(VMEXIT_EXCP_DB, 0x08, 0, 0);                /* the step's #DB */
    vx_l2(0x01, 0xFFFFFFFF81000200ull, 15 * 4096, 0);   /* RAX: a free page */
    vx_exit(VMEXIT_VMSAVE, 0, 0, 0);
    seed("vmexit", "np-step-vmsave");

    /* Finding: L1 (another CPU) clears a port in its IOPM while L2 runs;
     * VMCB02's merged map still has it, and L2's IN 80h exits: neither
     * L1 (its map now) nor L0 wanted it, and the hypervisor stopped. */
    vmexit_header(0x00, BASE_LONG, 0, 0, 0);
    vx_write(2, 0x10, 0x01, 1);                  /* L1's IOPM: port 80h */
    u8(VX_VMRUN); u32(0);
    vx_write(2, 0x10, 0x00, 1);                  /* cleared while L2 runs */
    vx_exit(VMEXIT_IOIO, 0, (0x80ull << 16) | 0x10 | 1, 0xFFFFFFFF81000002ull);
    seed("vmexit", "regress-stale-merge-io-exit");

    /* The same with an MSR: L1 stops intercepting RDMSR of STAR (bit 2 of
     * byte 820h) while L2 runs; L0 then answered L2's RDMSR with #GP. */
    vmexit_header(0x00, BASE_LONG, 0, 0, 0);
    vx_write(1, 0x820, 0x04, 1);
    u8(VX_VMRUN); u32(0);
    vx_write(1, 0x820, 0x00, 1);
    vx_l2(0, 0xFFFFFFFF81000300ull, 0, 0xC0000081u);
    vx_exit(VMEXIT_MSR, 0, 0, 0);
    seed("vmexit", "regress-stale-merge-msr-exit");

    /* Finding: L1's NPT12 at GPA 0 (nCR3 = 0) read as "no nested paging":
     * L2's first #NPF stopped the hypervisor. */
    vmexit_header(0x00, BASE_LONG | BASE_NP, 0, 0, 0);
    vx_write(0, 0x0B0, 0, 8);                    /* nCR3 = 0 */
    u8(VX_VMRUN); u32(0);
    vx_exit(VMEXIT_NPF, 0x00, 0x100000004ull, 0x3000); /* NPT02 fills it */
    seed("vmexit", "regress-npt12-at-gpa-0");
}

int main(void)
{
    seeds_store_decode();
    seeds_config();
    seeds_hypercall();
    seeds_npt02();
    seeds_maps();
    seeds_vmrun();
    seeds_vmexit();
    return 0;
}
