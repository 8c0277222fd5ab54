/* Entry points of the pulp-open port.
 *
 *   _start              the fabric controller (GVSoC's loader starts it at the ELF entry)
 *   pulp_cluster_start  every cluster core (its boot address register points here; the boot
 *                       address must be 256-byte aligned: the core derives mtvec from it)
 *   pulp_trap_vector    trap vector of every core: reports the cause and ends the simulation
 *   pulp_semihost       RISC-V semihosting call (a0 = operation, a1 = argument block)
 */
#include "pulp.h"

    .section .text.start, "ax"
    .globl _start
    .type _start, @function
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, __fc_stack_top
    la t0, pulp_trap_vector
    csrw mtvec, t0
    call pulp_fc_boot
1:  j 1b

    .section .text.cluster_start, "ax"
    .balign 256
    .globl pulp_cluster_start
    .type pulp_cluster_start, @function
pulp_cluster_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    csrr a0, mhartid
    andi a0, a0, 0x1f
    la sp, __l1_stacks_top
    li t0, PULP_CLUSTER_STACK_BYTES
    mul t1, t0, a0
    sub sp, sp, t1
    la t0, pulp_trap_vector
    csrw mtvec, t0
    call pulp_cluster_loop
2:  j 2b

    .section .text.trap, "ax"
    .balign 256
    .globl pulp_trap_vector
pulp_trap_vector:           /* vectored or not: every entry goes to the handler */
    .option push
    .option norvc
    .rept 32
    j pulp_trap_entry
    .endr
    .option pop
pulp_trap_entry:
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call pulp_trap
3:  j 3b

    .section .text.pulp_semihost, "ax"
    .globl pulp_semihost
    .type pulp_semihost, @function
    .balign 16
pulp_semihost:
    .option push
    .option norvc           /* the simulator recognises the exact 32-bit sequence */
    slli zero, zero, 0x1f
    ebreak
    srai zero, zero, 7
    .option pop
    ret
