; L2 code and L1 helpers for the security scenarios
; (tests/l1/security_checks.c). L2 starts with RBX as L1 set it
; (l1_vmrun's second argument) and RAX from VMCB12. Snippets that L1 may
; leave VMMCALL unintercepted in end with HLT, which L1 intercepts; the
; others with VMMCALL. Faults L2 takes go through L1's own IDT (VMCB12
; copies L1's IDTR), where fault_catch.asm's handlers record the vector in
; catch_vector and skip catch_skip bytes.
bits 64
default rel
%include "arch/x86/callee_saved.inc"

section .text
global sec_l2_vmrun, sec_l2_read32, sec_l2_invlpga, sec_l2_skinit, sec_l2_vmmcall_hlt
global sec_l2_wrmsr_rdmsr, sec_l2_vmsave, sec_l2_touch, sec_l2_touch_end

sec_l2_vmrun:                     ; VMRUN in L2 (RAX = VMCB12's RAX): L1
    vmrun                         ; intercepts it, so the #VMEXIT is L1's
    vmmcall

sec_l2_read32:                    ; RBX = the dword at the address in RBX
    mov ebx, [rbx]
    vmmcall

sec_l2_invlpga:                   ; INVLPGA RAX (= VMCB12's), ASID RBX
    mov ecx, ebx
    invlpga
    mov ebx, 0x1A9A
    vmmcall

sec_l2_skinit:                    ; SKINIT (0F 01 DE), then HLT
    skinit
    hlt

sec_l2_vmmcall_hlt:               ; VMMCALL L1 does not intercept, then HLT
    vmmcall
    hlt

; MSR[EBX] = RAX, then RBX = MSR[EBX] read back; HLT (intercepted).
sec_l2_wrmsr_rdmsr:
    mov ecx, ebx
    mov rdx, rax
    shr rdx, 32
    wrmsr
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov rbx, rax
    hlt

sec_l2_vmsave:                    ; VMSAVE [RAX], then HLT
    vmsave
    hlt

; The #NPF storm: RBX reads, one every 2 MiB + 4 KiB from RAX (each in its
; own 2 MiB of L2's physical space); RBX = the XOR of the qwords read.
sec_l2_touch:
    mov rcx, rbx
    xor ebx, ebx
    mov rdx, 0x201000
.next:
    xor rbx, [rax]
    add rax, rdx
    dec rcx
    jnz .next
sec_l2_touch_end:
    vmmcall

; --- L1 side -----------------------------------------------------------
; sec_vmrun_n(vmcb12, n): n VMRUNs of the same VMCB12 as fast as L1 can
; (the bad-VMCB12 storm): returns how many ended with VMEXIT_INVALID (low
; 32 bits: TCG writes it as 0x00000000ffffffff). GIF is set after each.
global sec_vmrun_n
sec_vmrun_n:
    PUSH_CALLEE_SAVED
    mov r12, rdi
    mov r13, rsi
    xor r14, r14
.again:
    mov rax, r12
    vmrun
    stgi
    cmp dword [r12 + 0x70], 0xFFFFFFFF ; EXITCODE
    jne .skip
    inc r14
.skip:
    dec r13
    jnz .again
    mov rax, r14
    POP_CALLEE_SAVED
    ret

; sec_cpuid_n(n): n CPUIDs of leaf 0 (the L1 exit storm).
global sec_cpuid_n
sec_cpuid_n:
    push rbx
    mov r8, rdi
.again:
    xor eax, eax
    xor ecx, ecx
    cpuid
    dec r8
    jnz .again
    pop rbx
    ret
