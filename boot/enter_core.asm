; hv_enter_core(struct hv_enter_args *args): switch from the firmware's CPU
; state to the core's (page tables, GDT, TSS, IDT, stack) and call the core's
; entry (info, cpu). The state saved here is what the core turns into L1's (VMCB01): when
; the hypervisor starts, the loader resumes as L1 at this function's return
; address with RAX = 0, and the code after "call rax" never runs. If the
; core returns (it could not start), the path below restores the loader's
; state exactly (except TR, which cannot be reloaded with a null selector;
; OVMF runs with TR = 0 and never uses it in long mode).
; The loader is position independent (a UEFI image), so everything here is
; RIP-relative. This page and the argument blocks are identity mapped in both
; the firmware's and the core's page tables, which is what makes the CR3
; switches below safe.
bits 64
default rel

; struct hv_loader_state (hv/core/boot_info.h)
%define LS_RBX     0
%define LS_RBP     8
%define LS_R12     16
%define LS_R13     24
%define LS_R14     32
%define LS_R15     40
%define LS_RSP     48
%define LS_RFLAGS  56
%define LS_CR0     64
%define LS_CR3     72
%define LS_CR4     80
%define LS_FSBASE  88
%define LS_GSBASE  96
%define LS_CS      104
%define LS_DS      106
%define LS_ES      108
%define LS_FS      110
%define LS_GS      112
%define LS_SS      114
%define LS_GDTR    116
%define LS_IDTR    126
%define LS_TR      136
%define LS_LDTR    138
; struct hv_enter_args
%define EA_CR3     0
%define EA_ENTRY   8
%define EA_INFO    16
%define EA_STACK   24
%define EA_GDTR    32
%define EA_IDTR    40
%define EA_STATE   48
%define EA_CPU     56

%define SEL_CODE64 0x08
%define SEL_DATA   0x10
%define SEL_TSS    0x18
%define MSR_FS_BASE 0xC0000100
%define MSR_GS_BASE 0xC0000101

section .text
global hv_enter_core
hv_enter_core:
    mov r11, [rdi + EA_STATE]
    mov [r11 + LS_RBX], rbx
    mov [r11 + LS_RBP], rbp
    mov [r11 + LS_R12], r12
    mov [r11 + LS_R13], r13
    mov [r11 + LS_R14], r14
    mov [r11 + LS_R15], r15
    pushfq
    pop rax
    mov [r11 + LS_RFLAGS], rax
    cli
    mov [r11 + LS_RSP], rsp
    mov rax, cr0
    mov [r11 + LS_CR0], rax
    mov rax, cr3
    mov [r11 + LS_CR3], rax
    mov rax, cr4
    mov [r11 + LS_CR4], rax
    mov ecx, MSR_FS_BASE
    rdmsr
    mov [r11 + LS_FSBASE], eax
    mov [r11 + LS_FSBASE + 4], edx
    mov ecx, MSR_GS_BASE
    rdmsr
    mov [r11 + LS_GSBASE], eax
    mov [r11 + LS_GSBASE + 4], edx
    mov [r11 + LS_CS], cs
    mov [r11 + LS_DS], ds
    mov [r11 + LS_ES], es
    mov [r11 + LS_FS], fs
    mov [r11 + LS_GS], gs
    mov [r11 + LS_SS], ss
    sgdt [r11 + LS_GDTR]
    sidt [r11 + LS_IDTR]
    str word [r11 + LS_TR]
    sldt word [r11 + LS_LDTR]

    ; Into the core's world. The stack stays the loader's (identity mapped
    ; in the core's tables too) until everything is loaded.
    mov rax, [rdi + EA_CR3]
    mov cr3, rax
    mov rax, [rdi + EA_GDTR]
    lgdt [rax]
    mov rax, [rdi + EA_IDTR]
    lidt [rax]
    lea rax, [.core_cs]
    push SEL_CODE64
    push rax
    retfq
.core_cs:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov ax, SEL_TSS
    ltr ax

    mov rsp, [rdi + EA_STACK]
    push r11                    ; loader state, for the way back
    push rdi
    mov rax, [rdi + EA_ENTRY]
    mov rsi, [rdi + EA_CPU]
    mov rdi, [rdi + EA_INFO]
    call rax
    pop rdi
    pop r11
    mov r8, rax                 ; the core's return value

    ; Back to the loader's world: stack first, since the core's stack is
    ; not mapped in the firmware's page tables.
    mov rsp, [r11 + LS_RSP]
    lgdt [r11 + LS_GDTR]
    lidt [r11 + LS_IDTR]
    mov rax, [r11 + LS_CR3]
    mov cr3, rax
    mov rax, [r11 + LS_CR4]
    mov cr4, rax
    mov rax, [r11 + LS_CR0]
    mov cr0, rax
    mov ax, [r11 + LS_SS]
    mov ss, ax
    mov ax, [r11 + LS_DS]
    mov ds, ax
    mov ax, [r11 + LS_ES]
    mov es, ax
    mov ax, [r11 + LS_FS]
    mov fs, ax
    mov ax, [r11 + LS_GS]
    mov gs, ax
    movzx eax, word [r11 + LS_CS]
    lea rcx, [.loader_cs]
    push rax
    push rcx
    retfq
.loader_cs:
    mov ecx, MSR_FS_BASE
    mov eax, [r11 + LS_FSBASE]
    mov edx, [r11 + LS_FSBASE + 4]
    wrmsr
    mov ecx, MSR_GS_BASE
    mov eax, [r11 + LS_GSBASE]
    mov edx, [r11 + LS_GSBASE + 4]
    wrmsr
    mov rbx, [r11 + LS_RBX]
    mov rbp, [r11 + LS_RBP]
    mov r12, [r11 + LS_R12]
    mov r13, [r11 + LS_R13]
    mov r14, [r11 + LS_R14]
    mov r15, [r11 + LS_R15]
    push qword [r11 + LS_RFLAGS]
    popfq
    mov rax, r8
    ret
