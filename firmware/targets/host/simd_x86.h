/*
 * Host target: which vector code the dot products of the host library use (rnnse_simd.h).
 *
 * The x86 build needs AVX2 + F16C + FMA; when the compiler can emit them it also carries AVX-512
 * (F, BW, VL, VNNI) int8 dot products, taken at run time when the CPU has these extensions (the
 * FP16 ones stay on AVX2 code). The environment variable RNNSE_SIMD=avx2, read when the library
 * is loaded, keeps the AVX2 code.
 */
#ifndef RNNSE_SIMD_X86_H
#define RNNSE_SIMD_X86_H

#ifdef __cplusplus
extern "C" {
#endif

/* The int8 dot-product code in use: "avx512vnni", "avx2" or "portable". */
const char *rnnse_simd_kernels(void);
/* Use the code named ("avx512vnni", "avx2", "portable" or "auto": the best this CPU runs);
 * 0 on success, -1 when this library or CPU cannot run it (nothing changes). Call it between
 * layer or network calls, never during one. */
int rnnse_simd_select(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_SIMD_X86_H */
