/* Reset entry for every hart (QEMU virt with -bios none starts all harts here at once, with
 * a0 = hart id and a1 = the device tree). Harts the image has no stack for are parked at once;
 * the others get their own stack below __stack. Hart 0 then initialises memory in
 * virt_boot_controller while the others wait in virt_boot_worker without touching RAM. */
#include "virt.h"

    .section .text.init.enter, "ax"
    .globl _start
    .type _start, @function
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    csrr a0, mhartid
    li t0, VIRT_HARTS
    bgeu a0, t0, 2f
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
    call virt_boot_controller   /* (hart id, device tree); does not return */
1:  call virt_boot_worker
2:  csrw mie, zero
3:  wfi
    j 3b

    .align 4
    .globl virt_trap_entry
virt_trap_entry:
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call virt_trap
4:  j 4b
