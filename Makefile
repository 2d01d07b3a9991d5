# Nested AMD-SVM hypervisor: build, run and test.
#   make          build build/hv.efi, build/l1test.efi and build/usb.img
#   make run      boot build/usb.img in QEMU (TCG, or KVM on an AMD host)
#   make test     unit tests (cmocka) + fuzz smoke run + integration tests (pytest, QEMU)
#   make test-long  the integration tests of several minutes each (after make test in CI)
#   make fuzz     libFuzzer targets, FUZZ_SECONDS or FUZZ_RUNS each (tests/fuzz/README.md)
#   make bench    exit round-trip cost and memory footprint (figures)
#   make debug    boot in QEMU stopped, gdb attached with the core's symbols
#   make deps     install the build/test dependencies from Debian (idempotent)

BUILD   := build
CC      := gcc
NASM    := nasm -I./
PYTHON  := /usr/bin/python3
Q       := @

NEWLIB      := $(BUILD)/newlib/x86_64-elf
NEWLIB_LIBC := $(NEWLIB)/lib/libc.a
EFI_INC     := /usr/include/efi
EFI_LIB     := /usr/lib

WARN := -Wall -Wextra -Werror -Wno-unused-parameter

# --- the core: freestanding, linked at the top 2 GiB, no SSE in our own code
CORE_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-pic -fno-pie \
	-mcmodel=kernel -mno-red-zone -fno-stack-protector -mgeneral-regs-only \
	-fno-omit-frame-pointer -fno-asynchronous-unwind-tables -I. \
	-isystem $(NEWLIB)/include -MMD -MP
CORE_C   := hv/core/entry.c hv/core/log.c hv/core/fpu.c hv/core/exception.c hv/core/symbols.c \
	hv/core/memory.c hv/core/svm_report.c hv/core/launch.c hv/core/run_loop.c hv/core/vcpu.c \
	hv/exit/exit_dispatch.c hv/console/console.c hv/console/console_mux.c hv/console/shell.c hv/console/shell_line.c hv/console/vmcb_decode.c hv/exit/exit_cpuid.c hv/exit/exit_msr.c hv/exit/exit_vmmcall.c \
	hv/exit/exit_svm_insn.c hv/exit/exit_npf.c hv/exit/exit_shutdown.c hv/exit/exit_ioio.c hv/exit/exit_nmi.c hv/exit/exit_debug.c hv/exit/exit_init.c \
	hv/memory/guest_mem.c hv/core/host_caps.c hv/core/percpu.c hv/tlb/switch_vmcb.c hv/smp/ap_state.c hv/smp/ap_start.c \
	hv/smp/apic.c hv/decode/store_decode.c hv/decode/guest_fetch.c arch/x86/apic.c hv/smp/vcpu_request.c \
	hv/memory/npt.c hv/memory/iommu.c hv/memory/iommu_events.c hv/memory/iommu_pt.c hv/decode/insn_len.c hv/console/stats.c hv/tlb/tlb.c arch/x86/svm_bitmaps.c \
	hv/nested/nested.c hv/nested/nested_gif.c hv/nested/l1_gif.c hv/nested/l1_vmload.c hv/nested/nested_maps.c hv/nested/npt02.c hv/nested/vmcb12_check.c hv/tlb/tlb_policy.c \
	hv/nested/nested_cr_read.c hv/decode/cr_read_decode.c hv/nested/nested_tsc.c \
	hv/nested/nested_rdtscp.c hv/decode/rdtscp_decode.c hv/core/host_tsc.c \
	lib/newlib_glue.c lib/ringbuf.c \
	lib/page_alloc.c arch/x86/uart16550.c arch/x86/cpu_features.c \
	arch/x86/svm_probe.c arch/x86/svm_exit_names.c boot/config.c
CORE_ASM := arch/x86/exception_stubs.asm arch/x86/vmrun.asm
CORE_OBJ := $(CORE_C:%.c=$(BUILD)/core/%.o) $(CORE_ASM:%.asm=$(BUILD)/core/%.o)

# --- UEFI applications (GNU-EFI): the loader and the L1 test program
EFI_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fpic -fshort-wchar \
	-mno-red-zone -fno-stack-protector -fno-strict-aliasing \
	-maccumulate-outgoing-args -I. -I$(EFI_INC) -I$(EFI_INC)/x86_64 \
	-I$(EFI_INC)/protocol -MMD -MP
EFI_LDFLAGS := -nostdlib -znocombreloc -z noexecstack -T $(EFI_LIB)/elf_x86_64_efi.lds \
	-shared -Bsymbolic -z defs -L$(EFI_LIB) $(EFI_LIB)/crt0-efi-x86_64.o
EFI_LIBS := -lefi -lgnuefi
EFI_SECTIONS := -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel \
	-j .rela -j .rel.* -j .rela.* -j .reloc

LOADER_C   := boot/main.c boot/console.c boot/config.c boot/file.c boot/acpi.c boot/acpi_s5.c boot/ivrs.c \
	boot/core_load.c boot/core_tables.c boot/next_stage.c boot/mp.c \
	arch/x86/uart16550.c arch/x86/cpu_features.c arch/x86/svm_probe.c
LOADER_ASM := boot/enter_core.asm boot/core_blob.asm
LOADER_OBJ := $(LOADER_C:%.c=$(BUILD)/boot/%.o) $(LOADER_ASM:%.asm=$(BUILD)/boot/%.o)

L1_C   := tests/l1/main.c tests/l1/l1_checks.c tests/l1/fpu_check.c \
	tests/l1/bench.c tests/l1/nested_checks.c tests/l1/conformance_checks.c tests/l1/smp_checks.c tests/l1/security_checks.c boot/mp.c \
	arch/x86/uart16550.c arch/x86/svm_bitmaps.c
L1_ASM := tests/l1/fault_catch.asm tests/l1/fpu_exits.asm tests/l1/l2_guest.asm tests/l1/nmi_check.asm \
	tests/l1/conformance_l2.asm tests/l1/security_l2.asm
L1_OBJ := $(L1_C:%.c=$(BUILD)/l1/%.o) $(L1_ASM:%.asm=$(BUILD)/l1/%.o)

# --- host unit tests: tests/unit/test_X.c plus the sources under test
UNIT_CFLAGS := -std=gnu11 -O1 -g $(WARN) -I. -fsanitize=address,undefined \
	-fno-sanitize-recover=all
# A compile-and-link of several sources in one step writes one dependency
# file, the last source's (the test's own headers were lost, and a header
# change left a stale test): every header counts, as for the fuzzers.
UNIT_HEADERS := $(wildcard tests/unit/*.h hv/*/*.h arch/x86/*.h boot/*.h lib/*.h)
UNIT_TESTS := config ringbuf page_alloc cpu_features vmcb svm_bitmaps npt insn_len \
	exit_dispatch vmcb12_check npt02 tlb_model nested_route nested_maps nested_vmrun \
	nested_tsc l1_gif ap_state apic_icr store_decode vcpu_request iommu_pt iommu_events ivrs \
	exit_debug console_mux shell_line vmcb_decode stats acpi_s5 cr_read_decode rdtscp_decode l1_vmload
UNIT_SRC_config       := boot/config.c
UNIT_SRC_ringbuf      := lib/ringbuf.c
UNIT_SRC_console_mux  := hv/console/console_mux.c
UNIT_SRC_shell_line   := hv/console/shell_line.c
UNIT_SRC_vmcb_decode  := hv/console/vmcb_decode.c arch/x86/svm_exit_names.c
UNIT_SRC_stats        := hv/console/stats.c arch/x86/svm_exit_names.c
UNIT_SRC_page_alloc   := lib/page_alloc.c
UNIT_SRC_cpu_features := arch/x86/cpu_features.c
UNIT_SRC_vmcb         := arch/x86/svm_exit_names.c
UNIT_SRC_svm_bitmaps  := arch/x86/svm_bitmaps.c
UNIT_SRC_npt          := hv/memory/npt.c
UNIT_SRC_iommu_pt     := hv/memory/iommu_pt.c
UNIT_SRC_iommu_events := hv/memory/iommu_events.c
UNIT_SRC_exit_debug   := hv/exit/exit_debug.c
UNIT_SRC_ivrs         := boot/ivrs.c
UNIT_SRC_acpi_s5      := boot/acpi_s5.c
UNIT_SRC_insn_len     := hv/decode/insn_len.c
UNIT_SRC_exit_dispatch := hv/exit/exit_dispatch.c
UNIT_SRC_vmcb12_check := hv/nested/vmcb12_check.c
UNIT_SRC_npt02        := hv/nested/npt02.c hv/memory/npt.c
UNIT_SRC_tlb_model    := hv/tlb/tlb_policy.c
UNIT_SRC_nested_maps  := hv/nested/nested_maps.c arch/x86/svm_bitmaps.c hv/nested/nested_gif.c
UNIT_SRC_ap_state     := hv/smp/ap_state.c
UNIT_LDFLAGS_ap_state := -lpthread
UNIT_SRC_apic_icr     := arch/x86/apic.c
UNIT_SRC_store_decode := hv/decode/store_decode.c
UNIT_SRC_cr_read_decode := hv/decode/cr_read_decode.c
UNIT_SRC_rdtscp_decode := hv/decode/rdtscp_decode.c
UNIT_SRC_vcpu_request := hv/smp/vcpu_request.c
UNIT_LDFLAGS_vcpu_request := -lpthread
UNIT_SRC_l1_gif       := hv/nested/l1_gif.c hv/nested/l1_vmload.c hv/core/host_caps.c hv/tlb/switch_vmcb.c
UNIT_SRC_l1_vmload    := hv/nested/l1_vmload.c hv/core/host_caps.c
UNIT_SRC_nested_vmrun := hv/nested/nested.c hv/nested/nested_gif.c hv/nested/l1_gif.c hv/nested/nested_maps.c hv/nested/vmcb12_check.c arch/x86/svm_bitmaps.c \
	hv/core/host_caps.c hv/tlb/switch_vmcb.c hv/nested/nested_cr_read.c hv/decode/cr_read_decode.c hv/nested/nested_tsc.c \
	hv/nested/nested_rdtscp.c hv/decode/rdtscp_decode.c
# The checks wrapped: the test acts right after each VMRUN's check.
UNIT_LDFLAGS_nested_vmrun := -Wl,--wrap=vmcb12_check,--wrap=vmcb12_check_reloaded -lpthread
UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/unit/test_%)

.PHONY: all deps run test test-long unit integration test-xen bench debug clean distclean
all: $(BUILD)/hv.efi $(BUILD)/l1test.efi $(BUILD)/usb.img

# Installs only what is missing; cheap when everything is there.
deps:
	$(Q)tools/install-deps.sh

$(NEWLIB_LIBC): tools/build-newlib.sh | deps
	@echo "  NEWLIB  (once, about a minute)"
	$(Q)tools/build-newlib.sh $(BUILD)/newlib

$(BUILD)/core/%.o: %.c | $(NEWLIB_LIBC)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CORE_CFLAGS) -c $< -o $@

$(BUILD)/core/%.o: %.asm | deps
	@mkdir -p $(dir $@)
	$(Q)$(NASM) -f elf64 -g -F dwarf $< -o $@

$(BUILD)/core.elf: $(CORE_OBJ) linker.ld $(NEWLIB_LIBC)
	@echo "  LD      $@"
	$(Q)ld -nostdlib -static -z max-page-size=4096 -z noexecstack -T linker.ld -o $@ \
		$(CORE_OBJ) $(NEWLIB_LIBC)

# What the loader embeds: no debug info, but the symbol table for backtraces.
$(BUILD)/core.bin.elf: $(BUILD)/core.elf
	$(Q)objcopy --strip-debug $< $@

$(BUILD)/boot/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@echo "  CC      $< (efi)"
	$(Q)$(CC) $(EFI_CFLAGS) -c $< -o $@

$(BUILD)/boot/boot/core_blob.o: boot/core_blob.asm $(BUILD)/core.bin.elf
	@mkdir -p $(dir $@)
	$(Q)$(NASM) -f elf64 -DCORE_ELF='"$(BUILD)/core.bin.elf"' $< -o $@

$(BUILD)/boot/%.o: %.asm | deps
	@mkdir -p $(dir $@)
	$(Q)$(NASM) -f elf64 $< -o $@

$(BUILD)/l1/%.o: %.asm | deps
	@mkdir -p $(dir $@)
	$(Q)$(NASM) -f elf64 $< -o $@

$(BUILD)/l1/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@echo "  CC      $< (efi)"
	$(Q)$(CC) $(EFI_CFLAGS) -c $< -o $@

$(BUILD)/%.so:
	@echo "  LD      $@"
	$(Q)ld $(EFI_LDFLAGS) $^ -o $@ $(EFI_LIBS)
$(BUILD)/hv.so: $(LOADER_OBJ)
$(BUILD)/l1test.so: $(L1_OBJ)

$(BUILD)/%.efi: $(BUILD)/%.so
	$(Q)objcopy $(EFI_SECTIONS) --target efi-app-x86_64 --subsystem=10 $< $@

$(BUILD)/usb.img: $(BUILD)/hv.efi $(BUILD)/l1test.efi boot/hv.cfg tools/mkimage.sh
	@echo "  IMAGE   $@"
	$(Q)tools/mkimage.sh $@ $(BUILD)/hv.efi boot/hv.cfg $(BUILD)/l1test.efi

run: all
	$(Q)$(PYTHON) tools/qemu.py --image $(BUILD)/usb.img --smp 2 $(RUN_ARGS)

.SECONDEXPANSION:
$(BUILD)/unit/test_%: tests/unit/test_%.c $$(UNIT_SRC_$$*) $(UNIT_HEADERS) | deps
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (host)"
	$(Q)$(CC) $(UNIT_CFLAGS) $< $(UNIT_SRC_$*) -o $@ $(UNIT_LDFLAGS_$*) -lcmocka

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# A Debian kernel and a busybox initramfs to boot as L1 (cached).
LINUX_L1 := $(BUILD)/linux/.stamp
$(LINUX_L1): tools/linux-l1.sh tools/is-stale.sh $(wildcard tests/l1/linux/*) tools/hvstat.c \
		hv/exit/hypercall_abi.h hv/exit/hypercall_guest.h | deps
	@echo "  LINUX   $(BUILD)/linux (Debian kernel + initramfs, cached)"
	$(Q)tools/linux-l1.sh $(BUILD)/linux
	$(Q)touch $@

# Debian's QEMU and an L2 to boot, a second initramfs for test_kvmguest.py
# (cached).
LINUX_QEMU := $(BUILD)/linux/qemu.img
$(LINUX_QEMU): tools/linux-qemu.sh tools/is-stale.sh $(LINUX_L1)
	@echo "  LINUX   $@ (Debian QEMU for L1 + L2 kernel and initramfs, cached)"
	$(Q)tools/linux-qemu.sh $(BUILD)/linux
	$(Q)touch $@

# Debian's Xen 4.17 and a dom0 initramfs with its toolstack and a PVH domU
# (cached), for tests/integration/test_xen.py.
XEN_L1 := $(BUILD)/xen/.stamp
$(XEN_L1): tools/xen-l1.sh tools/is-stale.sh tests/l1/xen/dom0-init tests/l1/xen/domu-init tests/l1/xen/domu.cfg \
		$(LINUX_L1)
	@echo "  XEN     $(BUILD)/xen (Debian's Xen 4.17, dom0 and domU initramfs, cached)"
	$(Q)tools/xen-l1.sh $(BUILD)/xen $(BUILD)/linux
	$(Q)touch $@

integration: all $(LINUX_L1) $(LINUX_QEMU) $(XEN_L1)
	$(Q)$(PYTHON) -m pytest -q -m "not long" tests/integration

# The integration tests of several minutes each under TCG (marked "long").
test-long: all $(LINUX_L1) $(LINUX_QEMU)
	$(Q)$(PYTHON) -m pytest -q -m long tests/integration

# Xen as L1 alone (about 1.5 min under TCG).
test-xen: all $(XEN_L1)
	$(Q)$(PYTHON) -m pytest -q tests/integration/test_xen.py

include tests/fuzz/fuzz.mk

test: unit fuzz-smoke integration

# The statistics from inside L1, like kvm_stat (a static Linux program).
$(BUILD)/hvstat: tools/hvstat.c arch/x86/svm_exit_names.c hv/exit/hypercall_abi.h hv/exit/hypercall_guest.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (static, for L1)"
	$(Q)$(CC) -static -O2 -s $(WARN) -I. tools/hvstat.c arch/x86/svm_exit_names.c -o $@

# QEMU's gdb stub + gdb on build/core.elf (linked at its run address);
# DEBUG_ARGS go to tools/debug.py (e.g. --image, --smp, -- gdb arguments).
debug: all
	$(Q)$(PYTHON) tools/debug.py $(DEBUG_ARGS)

# Prints figures (cycles and instructions per exit, memory); see tools/bench.py.
bench: all
	$(Q)$(PYTHON) tools/bench.py

clean:
	rm -rf $(BUILD)/core $(BUILD)/boot $(BUILD)/l1 $(BUILD)/unit $(BUILD)/*.efi \
		$(BUILD)/*.so $(BUILD)/*.elf $(BUILD)/usb.img

# Also drops the cached newlib build.
distclean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
