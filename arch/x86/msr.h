/* Model-specific registers the hypervisor reads, writes or protects, beyond
 * the SVM ones in svm.h (AMD APM Vol. 2 Appendix A; BKDG/PPR for the
 * system-configuration MSRs). */
#pragma once

#define MSR_APIC_BASE     0x0000001Bu
#define MSR_SYSENTER_CS   0x00000174u
#define MSR_SYSENTER_ESP  0x00000175u
#define MSR_SYSENTER_EIP  0x00000176u
#define MSR_PAT           0x00000277u
#define MSR_STAR          0xC0000081u
#define MSR_LSTAR         0xC0000082u
#define MSR_CSTAR         0xC0000083u
#define MSR_SFMASK        0xC0000084u
/* RDTSCP's ECX (APM Vol. 3, RDTSCP; Vol. 2 Appendix A). */
#define MSR_TSC_AUX       0xC0000103u
/* System configuration: which physical ranges are DRAM, I/O or SMM. */
#define MSR_SYSCFG        0xC0010010u
#define MSR_IORR_BASE0    0xC0010016u
#define MSR_IORR_MASK0    0xC0010017u
#define MSR_IORR_BASE1    0xC0010018u
#define MSR_IORR_MASK1    0xC0010019u
#define MSR_TOP_MEM       0xC001001Au
#define MSR_TOP_MEM2      0xC001001Du
#define MSR_SMM_BASE      0xC0010111u
#define MSR_SMM_ADDR      0xC0010112u
#define MSR_SMM_MASK      0xC0010113u
#define MSR_SVM_KEY       0xC0010118u

#define APIC_BASE_ADDR_MASK 0x000FFFFFFFFFF000ULL
