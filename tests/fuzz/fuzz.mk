# Fuzzing (issue 9): libFuzzer targets, host-built with clang against the
# real core sources as the unit tests are, stand-ins for the rest
# (tests/fuzz/README.md).
#   make fuzz               every target for FUZZ_SECONDS each (default 60),
#                           or FUZZ_RUNS executions each when that is set;
#                           prints the figures, fails on any finding
#   make fuzz-smoke         FUZZ_SMOKE_SECONDS (default 6) of each, from the
#                           seeds only (part of make test)
#   make fuzz-TARGET        one target, same knobs as make fuzz
#   make fuzz-seeds         rewrites the generated seeds in tests/fuzz/corpus/
#                           (tests/fuzz/gen_seeds.c)
# The corpus the fuzzer grows stays in build/fuzz/corpus/TARGET; findings
# go to build/fuzz/artifacts/TARGET/ (crash-*, with the run's log).

FUZZ_CC      := clang-14
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_CFLAGS  := -std=gnu11 -O2 -g $(WARN) -I. -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fsanitize-coverage-ignorelist=tests/fuzz/coverage_ignore.txt
# A link in one step writes no dependency files: every header may matter.
FUZZ_HEADERS := $(wildcard tests/fuzz/*.h tests/unit/*.h hv/*/*.h arch/x86/*.h boot/*.h lib/*.h)
FUZZ_TARGETS := store_decode config hypercall npt02 maps vmrun vmexit
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 6
FUZZ_LIMIT = $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS))
FUZZ_BINS  := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_RUN   := tests/fuzz/run.sh

# Sources under test per target (FUZZ_SRC_x), extra link flags
# (FUZZ_LDFLAGS_x) and libFuzzer options (FUZZ_OPTS_x).
FUZZ_SRC_store_decode := hv/decode/store_decode.c
FUZZ_SRC_config       := boot/config.c
FUZZ_OPTS_config      := -max_len=1024
FUZZ_SRC_hypercall    := hv/exit/exit_vmmcall.c hv/core/vcpu.c hv/decode/insn_len.c hv/core/host_caps.c
FUZZ_SRC_npt02        := hv/nested/npt02.c hv/memory/npt.c
FUZZ_SRC_maps         := hv/nested/nested_maps.c hv/nested/nested_gif.c arch/x86/svm_bitmaps.c
FUZZ_OPTS_maps        := -max_len=512
# hv/nested/nested.c and what it calls, as the hypervisor links them
FUZZ_NESTED := hv/nested/nested.c hv/nested/nested_gif.c hv/nested/l1_gif.c hv/nested/nested_maps.c hv/nested/vmcb12_check.c \
	hv/tlb/switch_vmcb.c hv/core/vcpu.c hv/decode/insn_len.c hv/exit/exit_svm_insn.c hv/exit/exit_dispatch.c hv/exit/exit_debug.c \
	hv/core/host_caps.c hv/tlb/tlb_policy.c hv/nested/nested_cr_read.c hv/decode/cr_read_decode.c hv/nested/nested_tsc.c \
	hv/nested/nested_rdtscp.c hv/decode/rdtscp_decode.c arch/x86/svm_bitmaps.c
FUZZ_SRC_vmrun        := $(FUZZ_NESTED)
# The checks wrapped: the target seals L1's VMCB12 right after them.
FUZZ_LDFLAGS_vmrun    := -Wl,--wrap=vmcb12_check,--wrap=vmcb12_check_reloaded
FUZZ_OPTS_vmrun       := -max_len=4096
FUZZ_SRC_vmexit       := $(FUZZ_NESTED)
FUZZ_OPTS_vmexit      := -max_len=2048

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-seeds
fuzz-build: $(FUZZ_BINS)

fuzz-seeds: tests/fuzz/gen_seeds.c $(FUZZ_HEADERS)
	@mkdir -p $(FUZZ_DIR)
	$(Q)$(CC) -std=gnu11 -O1 $(WARN) -I. $< -o $(FUZZ_DIR)/gen_seeds
	$(Q)$(FUZZ_DIR)/gen_seeds
	@cp boot/hv.cfg tests/fuzz/corpus/config/hv.cfg

.SECONDEXPANSION:
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRC_$$*) $(FUZZ_HEADERS) \
		tests/fuzz/coverage_ignore.txt | deps
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (libFuzzer)"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FUZZ_SRC_$*) -o $@ $(FUZZ_LDFLAGS_$*)

# One target: fuzz-vmrun etc.
$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: $(FUZZ_DIR)/fuzz_%
	$(Q)$(FUZZ_RUN) $< tests/fuzz/corpus/$* $(FUZZ_DIR)/corpus/$* \
		$(FUZZ_DIR)/artifacts/$* '$(FUZZ_LIMIT)' $(FUZZ_OPTS_$*)

# Every target, one after the other; a finding fails the whole run, after
# the others have had their turn.
fuzz: $(FUZZ_BINS)
	$(Q)fail=0; $(foreach t,$(FUZZ_TARGETS), \
		$(FUZZ_RUN) $(FUZZ_DIR)/fuzz_$t tests/fuzz/corpus/$t $(FUZZ_DIR)/corpus/$t \
			$(FUZZ_DIR)/artifacts/$t '$(FUZZ_LIMIT)' $(FUZZ_OPTS_$t) || fail=1;) \
	exit $$fail

# Short, from the committed seeds only (a fresh working corpus each time).
fuzz-smoke: $(FUZZ_BINS)
	$(Q)rm -rf $(FUZZ_DIR)/smoke; fail=0; $(foreach t,$(FUZZ_TARGETS), \
		$(FUZZ_RUN) $(FUZZ_DIR)/fuzz_$t tests/fuzz/corpus/$t $(FUZZ_DIR)/smoke/$t \
			$(FUZZ_DIR)/smoke-artifacts/$t -max_total_time=$(FUZZ_SMOKE_SECONDS) \
			$(FUZZ_OPTS_$t) || fail=1;) \
	exit $$fail
