; svm_run(struct guest_regs *regs, uint64_t vmcb_pa, uint64_t guest_cpu_pa,
;         uint64_t host_state_pa, bool host_if)
; One guest entry and exit (APM Vol. 2, 15.5 and 15.6):
;   VMLOAD  the guest's FS, GS, TR, LDTR, KernelGsBase, STAR... from
;           guest_cpu_pa: one page per vCPU shared by L1 and L2, because
;           on hardware VMRUN and #VMEXIT leave these registers alone, so
;           they flow between L1 and L2 exactly as they would on a CPU
;   VMRUN   vmcb_pa (the CPU saves the host's RIP, RSP, RAX, CR*, EFER,
;           segments in the VM_HSAVE_PA area and restores them at #VMEXIT)
;   VMSAVE  the guest's FS, GS, TR, ... back to guest_cpu_pa
;   VMLOAD  the host's own TR, FS, GS, ... (host_state_pa), since #VMEXIT
;           does not restore them
; The guest GPRs other than RAX/RSP travel through *regs.
; The host runs with GIF clear (CLGI here; #VMEXIT clears it too), so with
; host_if it can set RFLAGS.IF for the guest run without ever taking an
; interrupt itself: VMRUN sets GIF, #VMEXIT clears it.
bits 64
default rel
%include "arch/x86/callee_saved.inc"
section .text

%define G_RBX 0
%define G_RCX 8
%define G_RDX 16
%define G_RSI 24
%define G_RDI 32
%define G_RBP 40
%define G_R8  48
%define G_R9  56
%define G_R10 64
%define G_R11 72
%define G_R12 80
%define G_R13 88
%define G_R14 96
%define G_R15 104

global svm_run
svm_run:
    PUSH_CALLEE_SAVED
    push rcx                    ; host_state_pa
    push rdx                    ; guest_cpu_pa
    push rdi                    ; regs
    clgi
    test r8b, r8b
    jz .if_clear
    sti
.if_clear:
    mov rax, rdx
    vmload
    mov rax, rsi                ; VMRUN takes the VMCB in RAX
    mov rbx, [rdi + G_RBX]
    mov rcx, [rdi + G_RCX]
    mov rdx, [rdi + G_RDX]
    mov rsi, [rdi + G_RSI]
    mov rbp, [rdi + G_RBP]
    mov r8,  [rdi + G_R8]
    mov r9,  [rdi + G_R9]
    mov r10, [rdi + G_R10]
    mov r11, [rdi + G_R11]
    mov r12, [rdi + G_R12]
    mov r13, [rdi + G_R13]
    mov r14, [rdi + G_R14]
    mov r15, [rdi + G_R15]
    mov rdi, [rdi + G_RDI]
    vmrun
global svm_run_resume
svm_run_resume:
    ; #VMEXIT: RAX, RSP and the rest of the host state are back; GIF is 0.
    cli
    push rdi                    ; guest RDI; [rsp + 8] is regs
    mov rdi, [rsp + 8]
    mov [rdi + G_RBX], rbx
    mov [rdi + G_RCX], rcx
    mov [rdi + G_RDX], rdx
    mov [rdi + G_RSI], rsi
    mov [rdi + G_RBP], rbp
    mov [rdi + G_R8],  r8
    mov [rdi + G_R9],  r9
    mov [rdi + G_R10], r10
    mov [rdi + G_R11], r11
    mov [rdi + G_R12], r12
    mov [rdi + G_R13], r13
    mov [rdi + G_R14], r14
    mov [rdi + G_R15], r15
    pop qword [rdi + G_RDI]
    add rsp, 8                  ; regs
    pop rax                     ; guest_cpu_pa
    vmsave
    pop rax                     ; host_state_pa
    vmload
    POP_CALLEE_SAVED
    ret
