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
global catch_install, catch_remove, gate_hook, gate_unhook

; rdi = gate address in the IDT, rsi = handler; keeps the selector
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

; rax = the IDT's base
idt_base:
    sub rsp, 16
    sidt [rsp]
    mov rax, [rsp + 2]
    add rsp, 16
    ret

; gate_hook(rdi = vector, rsi = handler, rdx = 16-byte save area): the
; firmware's gate for the vector kept in the save area, ours put in its
; place (also used by nmi_check.asm and conformance_l2.asm).
gate_hook:
    call idt_base
    shl rdi, 4
    add rdi, rax
    mov rax, [rdi]
    mov [rdx], rax
    mov rax, [rdi + 8]
    mov [rdx + 8], rax
    jmp set_gate

; gate_unhook(rdi = vector, rsi = the save area gate_hook filled)
gate_unhook:
    call idt_base
    shl rdi, 4
    add rdi, rax
    mov rax, [rsi]
    mov [rdi], rax
    mov rax, [rsi + 8]
    mov [rdi + 8], rax
    ret

catch_install:
    mov edi, 6
    lea rsi, [ud_handler]
    lea rdx, [saved_ud]
    call gate_hook
    mov edi, 13
    lea rsi, [gp_handler]
    lea rdx, [saved_gp]
    jmp gate_hook

catch_remove:
    mov edi, 6
    lea rsi, [saved_ud]
    call gate_unhook
    mov edi, 13
    lea rsi, [saved_gp]
    jmp gate_unhook

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
