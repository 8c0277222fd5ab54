/* Reset entry for every hart (QEMU virt with -bios none starts all harts here at once).
 * Each hart gets its own stack below __stack; hart 0 then initialises memory in
 * virt_boot_controller while the others wait in virt_boot_worker without touching RAM. */
#define VIRT_STACK_BYTES 0x8000

    .section .text.init.enter, "ax"
    .globl _start
    .type _start, @function
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    csrr a0, mhartid
    la sp, __stack
    li t0, VIRT_STACK_BYTES
    mul t1, t0, a0
    sub sp, sp, t1
    li t0, (1 << 13)            /* mstatus.FS = initial: enable the FPU */
    csrs mstatus, t0
    fscsr zero
    la t0, virt_trap_entry
    csrw mtvec, t0
    bnez a0, 1f
    call virt_boot_controller
1:  call virt_boot_worker
2:  wfi
    j 2b

    .align 4
    .globl virt_trap_entry
virt_trap_entry:
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call virt_trap
3:  j 3b
