; L1's NMI handler for the NMI-masking check (tests/l1/l1_checks.c): counts
; NMIs and the deepest nesting seen. On the first NMI it sends itself a
; second one (xAPIC ICR, shorthand self, NMI) and spins a while: on a CPU,
; that NMI waits until this handler's IRET; if it nested, the depth would
; reach 2.
bits 64
default rel
section .data
global nmi_count, nmi_max_depth, nmi_icr_lo
nmi_count:     dd 0
nmi_depth:     dd 0
nmi_max_depth: dd 0
nmi_icr_lo:    dq 0            ; address of the APIC's ICR low
saved_nmi:     times 2 dq 0

%define ICR_SELF_NMI 0x00044400 ; shorthand self, level assert, NMI

section .text
global nmi_handler_install, nmi_handler_remove

extern gate_hook, gate_unhook    ; fault_catch.asm

nmi_handler_install:
    mov edi, 2
    lea rsi, [nmi_handler]
    lea rdx, [saved_nmi]
    jmp gate_hook

nmi_handler_remove:
    mov edi, 2
    lea rsi, [saved_nmi]
    jmp gate_unhook

nmi_handler:
    push rax
    push rcx
    lock inc dword [nmi_depth]
    mov eax, [nmi_depth]
    cmp eax, [nmi_max_depth]
    jle .counted
    mov [nmi_max_depth], eax
.counted:
    lock inc dword [nmi_count]
    cmp dword [nmi_count], 1
    jne .out
    mov rax, [nmi_icr_lo]
    mov dword [rax], ICR_SELF_NMI
    mov ecx, 200000
.spin:
    pause
    dec ecx
    jnz .spin
.out:
    lock dec dword [nmi_depth]
    pop rcx
    pop rax
    iretq
