; Host exception entry points: one stub per architectural vector (0-31).
; Each pushes a uniform frame (error code or 0, vector, all GPRs) and calls
; exception_dispatch(struct exc_frame *) in hv/core/exception.c. The loader points
; the core's IDT at the stubs listed in exception_stub_table.
bits 64
default rel
section .text
extern exception_dispatch

; Vectors for which the CPU pushes an error code (APM Vol. 2, 8.4).
%define HAS_ERRCODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

%assign v 0
%rep 32
exc_stub_ %+ v:
%if HAS_ERRCODE(v)
%else
    push 0
%endif
    push v
    jmp exception_common
%assign v v + 1
%endrep

; The CPU aligned RSP to 16 before pushing its 5-word frame; with the error
; code, the vector and 15 GPRs the total is 22 words, so RSP stays 16-aligned
; for the call as the ABI requires.
exception_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp
    call exception_dispatch
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq

section .rodata
global exception_stub_table
align 8
exception_stub_table:
%assign v 0
%rep 32
    dq exc_stub_ %+ v
%assign v v + 1
%endrep
