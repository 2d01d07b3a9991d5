; The L1 test program as a small guest hypervisor: the VMRUN wrapper and
; the L2 guest code its scenarios run (tests/l1/nested_checks.c).
bits 64
default rel
%include "arch/x86/callee_saved.inc"

section .data
; L2's GPRs as L1 finds them after #VMEXIT (VMRUN does not switch GPRs
; other than RAX and RSP: a hypervisor saves its own around VMRUN).
global l2_gprs
l2_gprs: times 16 dq 0   ; rbx rcx rdx rsi rdi rbp r8..r15 (14 used)

section .text
; l1_vmrun(uint64_t vmcb12_pa, uint64_t l2_rbx): VMRUN, then STGI (the
; #VMEXIT clears GIF). L2 starts with RBX = l2_rbx.
global l1_vmrun
l1_vmrun:
    PUSH_CALLEE_SAVED
    mov rax, rdi
    mov rbx, rsi
    vmrun
    mov [l2_gprs + 0], rbx
    mov [l2_gprs + 8], rcx
    mov [l2_gprs + 16], rdx
    stgi
    POP_CALLEE_SAVED
    ret

; l1_vmrun_loop(vmcb12_pa, n): n round trips of an L2 that loops on CPUID
; (intercepted by L1): VMRUN, #VMEXIT, RIP += 2, again, with CLGI/STGI
; around VMRUN like KVM. l1_vmrun_loop_plain: the same without them (L1
; keeps GIF as #VMEXIT leaves it, clear, until the end). Both return the
; number of exits with code CPUID.
%macro VMRUN_LOOP 2            ; name, wrap VMRUN in CLGI/STGI (1/0)
global %1
%1:
    PUSH_CALLEE_SAVED
    mov r12, rdi                ; vmcb12
    mov r13, rsi                ; n
    xor r14, r14                ; CPUID exits seen
%%again:
%if %2
    clgi
%endif
    mov rax, r12
    vmrun
%if %2
    stgi
%endif
    cmp qword [r12 + 0x70], 0x72 ; EXITCODE
    jne %%skip
    inc r14
%%skip:
    add qword [r12 + 0x400 + 0x178], 2 ; save.rip += 2 (no NRIPS on TCG)
    dec r13
    jnz %%again
%if %2 == 0
    stgi
%endif
    mov rax, r14
    POP_CALLEE_SAVED
    ret
%endmacro

VMRUN_LOOP l1_vmrun_loop, 1
VMRUN_LOOP l1_vmrun_loop_plain, 0

; --- L2 code. Each snippet ends in VMMCALL (intercepted by L1) ---------
global l2_cpuid_vmmcall, l2_hlt, l2_out80, l2_rdmsr_star, l2_rdmsr_pat
global l2_cpuid_loop, l2_rdtsc, l2_read_rbx, l2_ud_handler, l2_vmload
global l2_cpuid_leaf_hv

l2_cpuid_vmmcall:
    xor eax, eax
    cpuid
    vmmcall
    jmp l2_cpuid_vmmcall

l2_cpuid_leaf_hv:                 ; RBX after VMMCALL: CPUID 0x40000000 EBX
    mov eax, 0x40000000
    xor ecx, ecx
    cpuid
    vmmcall
    jmp l2_cpuid_leaf_hv

l2_hlt:
    hlt
    vmmcall

l2_out80:
    mov al, 0x55
    out 0x80, al
    vmmcall

l2_rdmsr_star:
    mov ecx, 0xC0000081
    rdmsr
    vmmcall

l2_rdmsr_pat:                     ; MSR 0x277 (PAT), not intercepted by L1
    mov ecx, 0x277
    rdmsr
    mov rbx, rax
    vmmcall

l2_cpuid_loop:
    cpuid
    jmp l2_cpuid_loop

global l2_wrmsr_loop
l2_wrmsr_loop:                    ; RBX times WRMSR IA32_APIC_BASE (same value):
    mov ecx, 0x1B                 ; an exit L0 handles alone (L1 does not
    rdmsr                         ; intercept it), then VMMCALL to L1
.again:
    wrmsr
    dec rbx
    jnz .again
    vmmcall

l2_rdtsc:                         ; RBX = TSC as L2 sees it
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov rbx, rax
    vmmcall

l2_read_rbx:                      ; RBX = the qword at the address in RBX
    mov rbx, [rbx]
    vmmcall

l2_ud_handler:                    ; L2's #UD handler for injected events
    mov rbx, 0x1D1D
    vmmcall

l2_vmload:                        ; VMLOAD in L2, not intercepted by L1
    xor eax, eax
    vmload
    vmmcall

; L2 waits for an interrupt with IF set, at most ~50M rounds; then VMMCALL
; with RBX = 0 (no interrupt came).
global l2_wait_irq, l2_irq_handler
l2_wait_irq:
    sti
    mov rcx, 50000000
.spin:
    pause
    dec rcx
    jnz .spin
    cli
    xor ebx, ebx
    vmmcall

; Any interrupt vector in L2's IDT: EOI to the local APIC (x2APIC MSR or
; xAPIC MMIO, whichever mode the firmware uses), then VMMCALL with RBX =
; 0x1A1A.
l2_irq_handler:
    mov ecx, 0x1B
    rdmsr
    test eax, 1 << 10           ; x2APIC enabled?
    jz .xapic
    mov ecx, 0x80B
    xor eax, eax
    xor edx, edx
    wrmsr
    jmp .done
.xapic:
    and eax, 0xFFFFF000
    mov dword [rax + 0xB0], 0
.done:
    mov rbx, 0x1A1A
    vmmcall
