/*
 * The PULP builtins the PMSIS runtime (pulp-sdk) calls, for Debian's riscv64-unknown-elf-gcc,
 * which has none of them. Force-included (-include) into every file of the pmsis build, runtime
 * and firmware alike, before the runtime's own headers: each is the plain RISC-V form of what PULP's
 * GCC emits as one Xpulp instruction (bit manipulation in C, CSR accesses with csrr/csrw).
 *
 * Semantics (PULP's ISA manual and GVSoC's instruction set description):
 *   ClusterId      mhartid[10:5]; CoreId mhartid[4:0]; IsFc: the cluster id is the FC's (31)
 *   OffsetedRead   32-bit load from base + offset bytes; OffsetedWrite the store
 *   spr_read/write CSR read / write
 *   binsert        (dst & not_mask) | ((src << off) & mask)
 *   bextract       the size-bit field of src at bit off, sign-extended (bextractu: zero-extended)
 *   fl1            index of the most significant set bit (32 for 0, as p.fl1)
 *   maxsi          signed maximum
 */
#ifndef RNNSE_PULP_BUILTINS_H
#define RNNSE_PULP_BUILTINS_H

#ifndef __ASSEMBLER__
#ifndef LANGUAGE_ASSEMBLY

static inline unsigned int rnnse_pulp_hartid(void)
{
    unsigned int h;
    __asm__ volatile("csrr %0, mhartid" : "=r"(h));
    return h;
}

static inline int __builtin_pulp_ClusterId(void) { return (int)((rnnse_pulp_hartid() >> 5) & 0x3Fu); }
static inline int __builtin_pulp_CoreId(void) { return (int)(rnnse_pulp_hartid() & 0x1Fu); }
static inline int __builtin_pulp_IsFc(void) { return __builtin_pulp_ClusterId() == 31; }

static inline int __builtin_pulp_OffsetedRead(const volatile void *base, int offset)
{
    return *(const volatile int *)(const volatile void *)((const volatile char *)base + offset);
}

static inline void __builtin_pulp_OffsetedWrite(int value, volatile void *base, int offset)
{
    *(volatile int *)(volatile void *)((volatile char *)base + offset) = value;
}

#define __builtin_pulp_spr_read(reg)                                                               \
    __extension__({                                                                                \
        unsigned int rnnse_spr_value__;                                                            \
        __asm__ volatile("csrr %0, %1" : "=r"(rnnse_spr_value__) : "i"(reg));                      \
        rnnse_spr_value__;                                                                         \
    })

#define __builtin_pulp_spr_write(reg, value) __asm__ volatile("csrw %0, %1" ::"i"(reg), "r"(value))

static inline unsigned int __builtin_pulp_binsert(unsigned int dst, unsigned int not_mask, unsigned int src,
                                                  unsigned int mask, unsigned int off)
{
    return (dst & not_mask) | ((src << off) & mask);
}

static inline int __builtin_pulp_bextract(unsigned int src, unsigned int size, unsigned int off)
{
    unsigned int field = size >= 32u ? src >> off : (src >> off) & ((1u << size) - 1u);
    unsigned int sign = size >= 32u ? 0u : 1u << (size - 1u);
    return (int)((field ^ sign) - sign);
}

static inline unsigned int __builtin_pulp_bextractu(unsigned int src, unsigned int size, unsigned int off)
{
    return size >= 32u ? src >> off : (src >> off) & ((1u << size) - 1u);
}

static inline int __builtin_pulp_fl1(unsigned int x) { return x ? 31 - __builtin_clz(x) : 32; }

static inline int __builtin_pulp_maxsi(int a, int b) { return a > b ? a : b; }

#endif /* LANGUAGE_ASSEMBLY */
#endif /* __ASSEMBLER__ */
#endif /* RNNSE_PULP_BUILTINS_H */
