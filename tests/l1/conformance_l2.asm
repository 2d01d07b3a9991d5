; L2 code and L1 handlers for the conformance scenarios
; (tests/l1/conformance_checks.c, issue 12). L2 starts with RBX as L1 set
; it (l1_vmrun's second argument) and RAX from VMCB12; each snippet ends in
; VMMCALL, which L1 intercepts; L1 reads RBX, RCX, RDX from l2_gprs.
bits 64
default rel
%include "arch/x86/callee_saved.inc"

extern l2_gprs, gate_hook, gate_unhook

%define MSR_APIC_BASE 0x1B
%define MSR_X2APIC_ICR 0x830
%define MSR_X2APIC_EOI 0x80B
%define MSR_KGS_BASE 0xC0000102
%define RFLAGS_TF 0x100

section .data
global conf_counts, conf_last_error, l2_nmi_count, l2_nmi_rip, l1_db_count, l1_db_rip, l1_db_dr6, l1_ipi_count
conf_counts:     times 32 dq 0  ; L2 exceptions taken, per vector
conf_last_error: dq 0           ; the error code of the last one that had one
l1_db_count:     dq 0           ; L1's #DB traps (l1_db_handler)
l1_db_rip:       dq 0
l1_db_dr6:       dq 0
l1_ipi_count:    dq 0           ; L1's IPIs on CONF_IPI_VECTOR
l2_nmi_count:    dq 0           ; L2's NMIs (l2_nmi_handler)
l2_nmi_rip:      dq 0
l2_insn_event_count: dq 0       ; l2_insn_event_handler's deliveries
l2_insn_event_rip:   dq 0       ; the return RIP the first one pushed
saved_gate:      times 2 dq 0

section .text

; --- L2's exception handlers: one stub per vector 0-31 -----------------
; Vectors 8, 10-14, 17 are injected with an error code (EVENTINJ.EV), the
; others without (conformance_checks.c says why 21, 29, 30 are not).
global conf_stub_table
%macro EXC_STUB 1
exc_stub_%1:
    push rax
    mov eax, %1
%if %1 == 8 || (%1 >= 10 && %1 <= 14) || %1 == 17
    jmp exc_with_error
%else
    jmp exc_no_error
%endif
%endmacro
%assign v 0
%rep 32
EXC_STUB v
%assign v v + 1
%endrep

; Counted, then L2 ends with VMMCALL, RBX = 0xEE00 + vector: an
; unexpected fault ends the run instead of repeating forever.
exc_no_error:
    push rcx
    lea rcx, [conf_counts]
    inc qword [rcx + rax * 8]
    pop rcx
    jmp exc_end
exc_with_error:
    push rcx
    lea rcx, [conf_counts]
    inc qword [rcx + rax * 8]
    pop rcx
    push rax
    mov rax, [rsp + 16]
    mov [conf_last_error], rax
    pop rax
exc_end:
    lea ebx, [rax + 0xEE00]
    pop rax
    vmmcall

section .data
conf_stub_table:
%assign v 0
%rep 32
    dq exc_stub_ %+ v
%assign v v + 1
%endrep

section .text
; --- L2 snippets ---------------------------------------------------------
global l2_vmmcall, l2_vmload_kgs, l2_vmsave, l2_clgi_stgi, l2_ipi_clgi_stgi
global l2_ipi_after_stgi, l2_self_nmi, l2_nops, l2_nops_second
global l2_iopm_write_out, l2_iopm_second_out, l2_msrpm_write_rdmsr
global l2_msrpm_second_rdmsr, l2_out_dword, l2_out_word, l2_rdmsr_ebx, l2_wrmsr_ebx
global l2_cpuid1_ecx, l2_cpuid7_ecx, l2_irq_rip_handler, l2_nmi_handler, l2_db_handler
global l2_clgi, l2_stgi, l2_efer_clear_clgi, l2_clgi_cr8_stgi

l2_vmmcall:                       ; events injected at VMRUN land here first
    vmmcall
    jmp l2_vmmcall

l2_vmload_kgs:                    ; VMLOAD [RAX]; RBX = KernelGsBase after it
    vmload
    mov ecx, MSR_KGS_BASE
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov rbx, rax
    vmmcall

l2_vmsave:                        ; VMSAVE [RAX]
    vmsave
    vmmcall

l2_clgi_stgi:
    clgi
    stgi
    mov ebx, 0x6161
    vmmcall

l2_clgi:
    clgi
    vmmcall
l2_stgi:
    stgi
    vmmcall

; send_ipi: RBX = ICR value (bit 63: the APIC is in x2APIC mode), RAX =
; the xAPIC ICR's address. Clobbers RCX, RDX.
send_ipi:
    bt rbx, 63
    jc .x2apic
    mov [rax], ebx
    ret
.x2apic:
    push rax
    mov ecx, MSR_X2APIC_ICR
    mov eax, ebx
    xor edx, edx
    wrmsr
    pop rax
    ret

; With GIF clear, L2 sends itself an interrupt, then STGI: the interrupt
; is recognized right after the STGI. RBX = 1 between the two.
l2_ipi_clgi_stgi:
    clgi
    call send_ipi
    mov ebx, 1
    stgi
l2_ipi_after_stgi:
    mov ebx, 2
    mov ecx, 1000000             ; time for a late interrupt to show up
.spin:
    pause
    dec ecx
    jnz .spin
    vmmcall

l2_self_nmi:                      ; RBX = ICR value for a self NMI
    call send_ipi
    mov ecx, 1000000
.spin:
    pause
    dec ecx
    jnz .spin
    xor ebx, ebx
    vmmcall

global l2_icebp, l2_icebp_after
l2_icebp:                         ; ICEBP: a #DB trap after it (L2's or L1's)
    db 0xF1
l2_icebp_after:
    vmmcall

l2_nops:                          ; single-stepped from its first instruction
    nop
l2_nops_second:
    nop
    vmmcall

; IOPM rewritten by L2: OUT 0x80 (not intercepted), then set port 0x80's
; bit at [RBX], OUT 0x80 again.
l2_iopm_write_out:
    out 0x80, al
    or byte [rbx], 1
l2_iopm_second_out:
    out 0x80, al
    xor ebx, ebx
    vmmcall

; MSRPM rewritten by L2: RDMSR PAT, OR R8B (from RAX) into [RBX], RDMSR PAT.
l2_msrpm_write_rdmsr:
    mov r8, rax
    mov ecx, 0x277
    rdmsr
    or [rbx], r8b
l2_msrpm_second_rdmsr:
    rdmsr
    xor ebx, ebx
    vmmcall

l2_out_dword:                     ; OUT DX(=BX), EAX
    mov edx, ebx
    out dx, eax
    xor ebx, ebx
    vmmcall
l2_out_word:                      ; OUT DX(=BX), AX
    mov edx, ebx
    out dx, ax
    xor ebx, ebx
    vmmcall

l2_rdmsr_ebx:                     ; RBX = MSR[EBX]
    mov ecx, ebx
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov rbx, rax
    vmmcall

l2_wrmsr_ebx:                     ; MSR[EBX] = RAX, then HLT (intercepted:
    mov ecx, ebx                  ; VMMCALL would #UD on TCG once L2
    mov rdx, rax                  ; cleared its EFER.SVME)
    shr rdx, 32
    wrmsr
    hlt

l2_efer_clear_clgi:               ; EFER.SVME off in L2, then CLGI (#UD)
    mov ecx, 0xC0000080
    rdmsr
    btr eax, 12
    wrmsr
global l2_efer_cleared_clgi
l2_efer_cleared_clgi:
    clgi
    hlt

l2_clgi_cr8_stgi:                 ; TPR written with GIF clear, read after STGI
    clgi
    mov eax, 5
    mov cr8, rax
    stgi
    mov rbx, cr8
    vmmcall

l2_cpuid1_ecx:                    ; RBX = CPUID.1:ECX
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov ebx, ecx
    vmmcall
l2_cpuid7_ecx:                    ; RBX = CPUID.7.0:ECX
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov ebx, ecx
    vmmcall

; An interrupt in L2 (the IPI or V_IRQ vectors): EOI, RBX = 0x1E1E, RCX =
; the interrupted RIP.
l2_irq_rip_handler:
    mov rdx, [rsp]
    push rdx
    call eoi
    pop rcx
    mov ebx, 0x1E1E
    vmmcall

; An instruction's event (INT3, INT n) or one L1 injected in its place:
; counted, the return RIP of the first delivery kept, IRET. L2 code
; continues after the instruction and ends with VMMCALL, RBX = 0x3B3B.
; A delivery that pushed the instruction's own address (an event injected
; again with RIP still at it) returns to the instruction: a second count.
global l2_insn_event_handler, l2_insn_event_count, l2_insn_event_rip
global l2_int3, l2_int3_after, l2_int_n, l2_int_n_after
%define INSN_EVENT_VECTOR 0x55    ; conformance_checks.c: INSN_EVENT_VECTOR
l2_insn_event_handler:
    push rax
    inc qword [l2_insn_event_count]
    cmp qword [l2_insn_event_count], 1
    jne .again
    mov rax, [rsp + 8]
    mov [l2_insn_event_rip], rax
.again:
    pop rax
    iretq
l2_int3:
    int3                          ; CC
l2_int3_after:
    mov ebx, 0x3B3B
    vmmcall
l2_int_n:
    int INSN_EVENT_VECTOR         ; CD 55
l2_int_n_after:
    mov ebx, 0x3B3B
    vmmcall

; RDTSCP / RDTSC in L2 (hv/nested/nested_rdtscp.c): RAX (from VMCB12), RCX and
; RDX are all ones before the instruction, so L1 sees what it wrote (upper
; halves cleared in 64-bit mode) or, after an intercepted one, that it did
; not run. L1 reads RAX from VMCB12, RCX and RDX from l2_gprs.
global l2_rdtscp, l2_rdtscp_insn, l2_rdtsc_ones, l2_rdtsc_ones_insn
l2_rdtscp:
    mov rcx, -1
    mov rdx, -1
l2_rdtscp_insn:
    rdtscp                        ; 0F 01 F9
    vmmcall
l2_rdtsc_ones:
    mov rcx, -1
    mov rdx, -1
l2_rdtsc_ones_insn:
    rdtsc                         ; 0F 31
    vmmcall

; An NMI in L2: counted, its RIP kept, and IRET (which ends the CPU's NMI
; blocking: leaving by VMMCALL would keep NMIs blocked into L1).
l2_nmi_handler:
    push rax
    inc qword [l2_nmi_count]
    mov rax, [rsp + 8]
    mov [l2_nmi_rip], rax
    pop rax
    iretq

; #DB in L2: RBX = 0xDB, RCX = RIP, RDX = DR6; TF off, back to the code.
l2_db_handler:
    mov rcx, [rsp]
    mov rdx, dr6
    mov ebx, 0xDB
    and qword [rsp + 16], ~RFLAGS_TF
    iretq

; EOI to the local APIC, x2APIC or xAPIC. Clobbers RAX, RCX, RDX.
eoi:
    mov ecx, MSR_APIC_BASE
    rdmsr
    test eax, 1 << 10
    jz .xapic
    mov ecx, MSR_X2APIC_EOI
    xor eax, eax
    xor edx, edx
    wrmsr
    ret
.xapic:
    and eax, 0xFFFFF000
    mov dword [rax + 0xB0], 0
    ret

; --- L1 side ---------------------------------------------------------------
; l1_vmrun_tf(vmcb12): VMRUN with RFLAGS.TF set by the POPF before it, so
; VMRUN is the single-stepped instruction; its #DB trap is taken in L1
; after the #VMEXIT, at l1_vmrun_tf_after.
global l1_vmrun_tf, l1_vmrun_tf_after
l1_vmrun_tf:
    PUSH_CALLEE_SAVED
    mov rax, rdi
    pushfq
    or qword [rsp], RFLAGS_TF
    popfq
    vmrun
l1_vmrun_tf_after:
    nop
    mov [l2_gprs + 0], rbx
    mov [l2_gprs + 8], rcx
    stgi
    POP_CALLEE_SAVED
    ret

; l1_cpuid_tf(): CPUID single-stepped (TF set by the POPF before it); the
; #DB trap comes at l1_cpuid_tf_after.
global l1_cpuid_tf, l1_cpuid_tf_after
l1_cpuid_tf:
    push rbx
    xor eax, eax
    xor ecx, ecx
    pushfq
    or qword [rsp], RFLAGS_TF
    popfq
    cpuid
l1_cpuid_tf_after:
    nop
    pop rbx
    ret

; Handlers put into L1's IDT for one scenario: rdi = vector (1: #DB,
; records and clears TF; other: an IPI, counted and EOIed); restore with
; l1_gate_restore(vector).
global l1_gate_hook, l1_gate_restore
l1_gate_hook:
    lea rsi, [l1_ipi_handler]
    lea rax, [l1_db_handler]
    cmp rdi, 1
    cmove rsi, rax
    lea rdx, [saved_gate]
    jmp gate_hook
l1_gate_restore:
    lea rsi, [saved_gate]
    jmp gate_unhook

; l1_icebp(): ICEBP (INT1) in L1; its #DB trap comes at l1_icebp_after.
global l1_icebp, l1_icebp_after
l1_icebp:
    db 0xF1
l1_icebp_after:
    ret

; l1_watch_store(rdi = address): a data breakpoint on the 8 bytes at rdi
; (DR0, DR7: L0, R/W0 = write, LEN0 = 8 bytes), then a store there; the #DB
; trap comes at l1_watch_after. DR7 cleared after.
global l1_watch_store, l1_watch_after
l1_watch_store:
    mov dr0, rdi
    mov eax, 0x000D0001
    mov dr7, rax
    mov qword [rdi], 1
l1_watch_after:
    xor eax, eax
    mov dr7, rax
    ret

l1_db_handler:
    push rax
    inc qword [l1_db_count]
    mov rax, [rsp + 8]
    mov [l1_db_rip], rax
    mov rax, dr6
    mov [l1_db_dr6], rax
    mov eax, 0xFFFF0FF0
    mov dr6, rax
    and qword [rsp + 24], ~RFLAGS_TF
    pop rax
    iretq

l1_ipi_handler:
    push rax
    push rcx
    push rdx
    inc qword [l1_ipi_count]
    call eoi
    pop rdx
    pop rcx
    pop rax
    iretq
