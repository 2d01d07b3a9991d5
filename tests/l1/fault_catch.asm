; Catching the exceptions the L1 checks provoke on purpose (#UD, #GP):
; catch_install() points the firmware's IDT entries for vectors 6 and 13 at
; the handlers below; a handler records the vector and error code and
; resumes after the faulting instruction (its length set by the caller in
; catch_skip). catch_remove() restores the original entries.
bits 64
default rel
section .data
global catch_vector, catch_error, catch_skip
catch_vector: dq -1
catch_error:  dq 0
catch_skip:   dq 0
saved_ud:     times 2 dq 0
saved_gp:     times 2 dq 0

section .text
global catch_install, catch_remove, set_gate

; rdi = gate address in the IDT, rsi = handler; keeps the selector
; (also used by nmi_check.asm)
set_gate:
    mov rax, rsi
    mov [rdi], ax               ; offset 15:0
    shr rax, 16
    mov [rdi + 6], ax           ; offset 31:16
    shr rax, 16
    mov [rdi + 8], eax          ; offset 63:32
    mov byte [rdi + 4], 0       ; no IST
    mov byte [rdi + 5], 0x8E    ; present interrupt gate
    ret

catch_install:
    sub rsp, 16
    sidt [rsp]
    mov rdx, [rsp + 2]          ; IDT base
    add rsp, 16
    lea rdi, [rdx + 6 * 16]
    mov rax, [rdi]
    mov [saved_ud], rax
    mov rax, [rdi + 8]
    mov [saved_ud + 8], rax
    lea rsi, [ud_handler]
    call set_gate
    lea rdi, [rdx + 13 * 16]
    mov rax, [rdi]
    mov [saved_gp], rax
    mov rax, [rdi + 8]
    mov [saved_gp + 8], rax
    lea rsi, [gp_handler]
    call set_gate
    ret

catch_remove:
    sub rsp, 16
    sidt [rsp]
    mov rdx, [rsp + 2]
    add rsp, 16
    mov rax, [saved_ud]
    mov [rdx + 6 * 16], rax
    mov rax, [saved_ud + 8]
    mov [rdx + 6 * 16 + 8], rax
    mov rax, [saved_gp]
    mov [rdx + 13 * 16], rax
    mov rax, [saved_gp + 8]
    mov [rdx + 13 * 16 + 8], rax
    ret

ud_handler:
    push qword 0                ; no error code: make the frames alike
    push rax
    mov rax, 6
    jmp record
gp_handler:
    push rax
    mov rax, 13
record:
    mov [catch_vector], rax
    mov rax, [rsp + 8]
    mov [catch_error], rax
    mov rax, [catch_skip]
    add [rsp + 16], rax         ; RIP past the faulting instruction
    pop rax
    add rsp, 8
    iretq
