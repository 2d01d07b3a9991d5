; fpu_exits(in, out, iterations, avx, msg, msg_len) - see fpu_check.c
; rdi = in, rsi = out, rdx = iterations, ecx = avx, r8 = msg, r9 = msg_len
bits 64
default rel
%include "arch/x86/callee_saved.inc"
section .text
global fpu_exits

%define HV_CALL_STATS 1
%define HV_CALL_LOG 2
%define MSR_EFER 0xC0000080
%define MSR_VM_HSAVE_PA 0xC0010117


fpu_exits:
    PUSH_CALLEE_SAVED
    mov r12, rdx                ; iterations
    mov r13, rsi                ; out
    mov r14, r8                 ; msg
    mov r15, r9                 ; msg_len
    mov ebp, ecx                ; avx
    test ebp, ebp
    jz .load_xmm
%assign i 0
%rep 16
    vmovdqu ymm %+ i, [rdi + i * 32]
%assign i i + 1
%endrep
    jmp .loop
.load_xmm:
%assign i 0
%rep 16
    movdqu xmm %+ i, [rdi + i * 32]
%assign i i + 1
%endrep
.loop:
    xor eax, eax                ; CPUID leaf 0
    xor ecx, ecx
    cpuid
    mov eax, 0x40000000         ; the hypervisor's own leaf
    cpuid
    mov ecx, MSR_EFER           ; intercepted read
    rdmsr
    mov ecx, MSR_VM_HSAVE_PA    ; intercepted read and write
    rdmsr
    wrmsr
    mov eax, HV_CALL_STATS
    mov ebx, 0x72
    vmmcall
    test r12, 63                ; every 64th round: make the hypervisor print
    jnz .next
    mov eax, HV_CALL_LOG
    mov rbx, r14
    mov rcx, r15
    vmmcall
.next:
    dec r12
    jnz .loop
    test ebp, ebp
    jz .store_xmm
%assign i 0
%rep 16
    vmovdqu [r13 + i * 32], ymm %+ i
%assign i i + 1
%endrep
    vzeroupper
    jmp .done
.store_xmm:
%assign i 0
%rep 16
    movdqu [r13 + i * 32], xmm %+ i
%assign i i + 1
%endrep
.done:
    POP_CALLEE_SAVED
    ret
