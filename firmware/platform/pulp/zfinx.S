/* Single-precision arithmetic on the FPU of the pulp-open cores, which keep FP values in the
 * integer registers (Zfinx). The C code is compiled for the soft-float ABI (rv32imc/ilp32), so
 * GCC calls libgcc's __addsf3, __mulsf3, ... with the operands' bits in a0/a1; these definitions
 * take precedence over libgcc's and do each operation with one FPU instruction (IEEE 754,
 * round to nearest even from fcsr, as libgcc). The same holds for the libm functions the
 * firmware uses: sqrtf, fmaf, lrintf.
 *
 * Instructions are written with .insn (the F encodings, on x registers), because the Debian GNU
 * assembler in rv32imc mode knows no Zfinx mnemonics. rm 7 = dynamic (fcsr, nearest even at
 * reset), rm 1 = towards zero. libgcc groups: __eqsf2/__nesf2, __gesf2/__gtsf2, __lesf2/__ltsf2
 * are defined in pairs so that no libgcc member is pulled in beside them.
 */
#define FOP(funct7, rd, rs1, rs2) .insn r 0x53, 7, funct7, rd, rs1, rs2
#define FCMP(funct3, rd, rs1, rs2) .insn r 0x53, funct3, 0x50, rd, rs1, rs2

    .section .text.zfinx, "ax"
    .balign 4

    .globl __addsf3
__addsf3:
    FOP(0x00, a0, a0, a1)
    ret

    .globl __subsf3
__subsf3:
    FOP(0x04, a0, a0, a1)
    ret

    .globl __mulsf3
__mulsf3:
    FOP(0x08, a0, a0, a1)
    ret

    .globl __divsf3
__divsf3:
    FOP(0x0C, a0, a0, a1)
    ret

    .globl sqrtf
sqrtf:
    FOP(0x2C, a0, a0, x0)
    ret

    .globl fmaf
fmaf:
    .insn r4 0x43, 7, 0, a0, a0, a1, a2
    ret

    .globl __negsf2
__negsf2:
    li a1, 0x80000000
    xor a0, a0, a1
    ret

/* a == b (neither NaN) -> 0, else 1 */
    .globl __eqsf2
    .globl __nesf2
__eqsf2:
__nesf2:
    FCMP(2, a0, a0, a1)
    xori a0, a0, 1
    ret

/* a < b -> -1, else 0 (NaN: 0) */
    .globl __ltsf2
__ltsf2:
    FCMP(1, a0, a0, a1)
    neg a0, a0
    ret

/* a <= b -> 0, else 1 (NaN: 1) */
    .globl __lesf2
__lesf2:
    FCMP(0, a0, a0, a1)
    xori a0, a0, 1
    ret

/* a > b -> 1, else 0 (NaN: 0) */
    .globl __gtsf2
__gtsf2:
    FCMP(1, a0, a1, a0)
    ret

/* a >= b -> 0, else -1 (NaN: -1) */
    .globl __gesf2
__gesf2:
    FCMP(0, a0, a1, a0)
    addi a0, a0, -1
    ret

/* either operand NaN -> 1, else 0 */
    .globl __unordsf2
__unordsf2:
    FCMP(2, a2, a0, a0)
    FCMP(2, a3, a1, a1)
    and a0, a2, a3
    xori a0, a0, 1
    ret

/* conversions: float -> int truncate towards zero; int -> float and lrintf round as fcsr says */
    .globl __fixsfsi
__fixsfsi:
    .insn r 0x53, 1, 0x60, a0, a0, x0
    ret

    .globl __fixunssfsi
__fixunssfsi:
    .insn r 0x53, 1, 0x60, a0, a0, x1
    ret

    .globl __floatsisf
__floatsisf:
    .insn r 0x53, 7, 0x68, a0, a0, x0
    ret

    .globl __floatunsisf
__floatunsisf:
    .insn r 0x53, 7, 0x68, a0, a0, x1
    ret

    .globl lrintf
lrintf:
    .insn r 0x53, 7, 0x60, a0, a0, x0
    ret
