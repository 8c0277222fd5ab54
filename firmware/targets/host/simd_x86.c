/* Run-time choice of the host library's dot-product code (see simd_x86.h and rnnse_simd.h). */
#include <stdlib.h>
#include <string.h>

#include "rnnse_simd.h"
#include "simd_x86.h"

#ifdef RNNSE_SIMD_USE_VNNI
int rnnse_simd_x86_vnni;

static int cpu_has_vnni(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

__attribute__((constructor)) static void simd_x86_init(void)
{
    const char *env = getenv("RNNSE_SIMD");
    rnnse_simd_x86_vnni = cpu_has_vnni() && !(env && strcmp(env, "avx2") == 0);
}
#endif

const char *rnnse_simd_kernels(void)
{
#ifdef RNNSE_SIMD_USE_VNNI
    if (rnnse_simd_x86_vnni) return "avx512vnni";
#endif
    return RNNSE_SIMD_NAME;
}

int rnnse_simd_select(const char *name)
{
    if (!name) return -1;
#ifdef RNNSE_SIMD_USE_VNNI
    if (strcmp(name, "auto") == 0) {
        rnnse_simd_x86_vnni = cpu_has_vnni();
        return 0;
    }
    if (strcmp(name, "avx512vnni") == 0) {
        if (!cpu_has_vnni()) return -1;
        rnnse_simd_x86_vnni = 1;
        return 0;
    }
    if (strcmp(name, RNNSE_SIMD_NAME) == 0) {
        rnnse_simd_x86_vnni = 0;
        return 0;
    }
    return -1;
#else
    return strcmp(name, RNNSE_SIMD_NAME) == 0 || strcmp(name, "auto") == 0 ? 0 : -1;
#endif
}
