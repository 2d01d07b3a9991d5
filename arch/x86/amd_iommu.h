/* What the AMD I/O Virtualization Technology (IOMMU) Specification (AMD-Vi,
 * pub. 48882) defines and the hypervisor uses: the MMIO registers, the
 * device table entry, the I/O page table entries (the "v1" host page table
 * format), the command and event log entries, and the ACPI IVRS table that
 * tells where the IOMMUs are. Section numbers are the specification's. */
#pragma once
#include <stdint.h>
#include <stddef.h>

/* --- MMIO registers (3.4) ------------------------------------------------ */
#define AMDVI_MMIO_DEV_TABLE_BASE 0x0000 /* 51:12 base, 8:0 size in 4 KiB - 1 */
#define AMDVI_MMIO_CMD_BUF_BASE   0x0008 /* 51:12 base, 59:56 log2(entries) */
#define AMDVI_MMIO_EVENT_LOG_BASE 0x0010 /* 51:12 base, 59:56 log2(entries) */
#define AMDVI_MMIO_CONTROL        0x0018
#define AMDVI_MMIO_EXCL_BASE      0x0020
#define AMDVI_MMIO_EXCL_LIMIT     0x0028
#define AMDVI_MMIO_EXT_FEATURES   0x0030
#define AMDVI_MMIO_CMD_HEAD       0x2000 /* byte offsets into the buffers, 18:4 */
#define AMDVI_MMIO_CMD_TAIL       0x2008
#define AMDVI_MMIO_EVENT_HEAD     0x2010
#define AMDVI_MMIO_EVENT_TAIL     0x2018
#define AMDVI_MMIO_STATUS         0x2020
/* The register block; with performance counters (EFR.PCSup) the aperture
 * the IOMMU decodes is 512 KiB (3.4). */
#define AMDVI_MMIO_SIZE        0x4000ULL
#define AMDVI_MMIO_SIZE_PC     0x80000ULL

#define AMDVI_CTRL_IOMMU_EN     (1ULL << 0)
#define AMDVI_CTRL_HT_TUN_EN    (1ULL << 1)
#define AMDVI_CTRL_EVENT_LOG_EN (1ULL << 2)
#define AMDVI_CTRL_PASS_PW      (1ULL << 8)
#define AMDVI_CTRL_RES_PASS_PW  (1ULL << 9)
#define AMDVI_CTRL_COHERENT     (1ULL << 10) /* table reads snoop the caches */
#define AMDVI_CTRL_ISOC         (1ULL << 11)
#define AMDVI_CTRL_CMD_BUF_EN   (1ULL << 12)
#define AMDVI_CTRL_PPR_LOG_EN   (1ULL << 13)
#define AMDVI_CTRL_GT_EN        (1ULL << 16)
#define AMDVI_STATUS_EVENT_OVERFLOW (1ULL << 0)
#define AMDVI_STATUS_CMD_BUF_RUN    (1ULL << 4)

#define AMDVI_EFR_IA_SUP (1ULL << 6) /* INVALIDATE_IOMMU_ALL */
#define AMDVI_EFR_PC_SUP (1ULL << 9) /* performance counters */

#define AMDVI_RING_LOG2 8 /* 256 entries of 16 bytes: one 4 KiB page */
#define AMDVI_RING_LEN_SHIFT 56
#define AMDVI_ADDR_MASK 0x000FFFFFFFFFF000ULL

/* --- device table (2.2.2): one 256-bit entry per 16-bit DeviceID --------- */
#define AMDVI_DEVICE_IDS 65536
#define AMDVI_DTE_SIZE 32
#define AMDVI_DEV_TABLE_BYTES ((uint64_t)AMDVI_DEVICE_IDS * AMDVI_DTE_SIZE) /* 2 MiB */

struct amdvi_dte {
    uint64_t q[4];
};
_Static_assert(sizeof(struct amdvi_dte) == AMDVI_DTE_SIZE, "DTE is 256 bits");

#define AMDVI_DTE_V          (1ULL << 0)   /* entry valid */
#define AMDVI_DTE_TV         (1ULL << 1)   /* translation information valid */
#define AMDVI_DTE_MODE_SHIFT 9             /* 11:9: levels of the page table */
#define AMDVI_DTE_IR         (1ULL << 61)  /* reads allowed at this level */
#define AMDVI_DTE_IW         (1ULL << 62)  /* writes allowed at this level */
/* q[1] 15:0: DomainID, which tags the IOMMU's cached translations. */

/* --- I/O page tables (2.2.3) ------------------------------------------- */
#define AMDVI_PTE_PR         (1ULL << 0)
#define AMDVI_PTE_NEXT_SHIFT 9   /* 11:9: level of the table pointed to; 0 = leaf */
#define AMDVI_PTE_IR         (1ULL << 61)
#define AMDVI_PTE_IW         (1ULL << 62)
/* With 4 levels a table covers 48 bits; a leaf (next level 0) at level 2
 * maps 2 MiB, at level 3 1 GiB: the level's default page size. */
#define AMDVI_LEVELS 4

/* --- commands (2.4) ------------------------------------------------------ */
struct amdvi_cmd {
    uint32_t d[4];
};
_Static_assert(sizeof(struct amdvi_cmd) == 16, "commands are 128 bits");
#define AMDVI_CMD_OP_SHIFT 28 /* in d[1] */
#define AMDVI_CMD_COMPLETION_WAIT    0x1
#define AMDVI_CMD_INV_DEVTAB_ENTRY   0x2
#define AMDVI_CMD_INV_IOMMU_PAGES    0x3
#define AMDVI_CMD_INV_IOMMU_ALL      0x8
#define AMDVI_CMD_WAIT_STORE     (1u << 0) /* COMPLETION_WAIT d[0]: store d[3:2] */
#define AMDVI_CMD_PAGES_S        (1u << 0) /* INVALIDATE_IOMMU_PAGES d[2]: range */
#define AMDVI_CMD_PAGES_PDE      (1u << 1) /* ... and the table entries cached */
/* With S=1, this address (all ones above bit 12, bit 63 clear) means every
 * page of the domain (2.4.3). */
#define AMDVI_INV_ALL_ADDR 0x7FFFFFFFFFFFF000ULL

/* --- event log (2.5) ----------------------------------------------------- */
struct amdvi_event {
    uint32_t d[4];
};
_Static_assert(sizeof(struct amdvi_event) == 16, "events are 128 bits");
#define AMDVI_EVENT_CODE_SHIFT 28 /* in d[1] */
#define AMDVI_EVENT_ILLEGAL_DEV_TABLE_ENTRY 0x1
#define AMDVI_EVENT_IO_PAGE_FAULT           0x2
#define AMDVI_EVENT_DEV_TAB_HW_ERROR        0x3
#define AMDVI_EVENT_PAGE_TAB_HW_ERROR       0x4
#define AMDVI_EVENT_ILLEGAL_COMMAND         0x5
#define AMDVI_EVENT_COMMAND_HW_ERROR        0x6
#define AMDVI_EVENT_IOTLB_INV_TIMEOUT       0x7
#define AMDVI_EVENT_INVALID_DEVICE_REQUEST  0x8
/* IO_PAGE_FAULT: d[0] 15:0 DeviceID; d[1] bit 21 (flags bit 5) RW: a write;
 * d[3]:d[2] the address the device used. */
#define AMDVI_EVENT_FAULT_RW (1u << 21)

/* --- ACPI IVRS (5.2) ----------------------------------------------------- */
#define IVRS_HEADER_BYTES 48 /* ACPI header 36, IVinfo 4, reserved 8 */
#define IVHD_TYPE_10 0x10    /* IVHD with a 24-byte header */
#define IVHD_TYPE_11 0x11    /* IVHD with a 40-byte header (EFR image) */
#define IVHD_TYPE_40 0x40
/* IVHD flags (byte 1): how the firmware wants the IOMMU's bus behaviour
 * set in its control register (HtTunEn, PassPW, ResPassPW, Isoc). */
#define IVHD_FLAG_HT_TUN_EN   (1u << 0)
#define IVHD_FLAG_PASS_PW     (1u << 1)
#define IVHD_FLAG_RES_PASS_PW (1u << 2)
#define IVHD_FLAG_ISOC        (1u << 3)
/* IVHD block header: type 0, flags 1, length 2, IOMMU DeviceID 4,
 * capability offset 6, IOMMU base address 8, PCI segment 16. */
struct __attribute__((packed)) ivhd_header {
    uint8_t type, flags;
    uint16_t length;
    uint16_t device_id, cap_offset;
    uint64_t base;
    uint16_t segment, info;
    uint32_t attributes;
};
_Static_assert(offsetof(struct ivhd_header, base) == 8, "IVHD base");
_Static_assert(offsetof(struct ivhd_header, segment) == 16, "IVHD segment");
_Static_assert(sizeof(struct ivhd_header) == 24, "IVHD type 10h header");
