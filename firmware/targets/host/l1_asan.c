/*
 * AddressSanitizer builds of the host target only (scons asan=1): redzones inside the L1 arena.
 *
 * The host port carves L1 buffers out of one static arena (firmware/platform/host), which ASan
 * sees as a single object: a kernel running past the end of one buffer into the next would go
 * unnoticed. The asan build links the kernels' calls of plat_l1_alloc and plat_l1_used to the
 * wrappers below (-Wl,--wrap=...):
 *   - every buffer is followed by at least L1_ASAN_REDZONE poisoned bytes (the bytes after the
 *     size asked for, up to the end of a larger allocation), and the arena beyond the last buffer
 *     is poisoned too; an access there is reported by ASan;
 *   - the arena is unpoisoned whenever it is found empty (after plat_l1_reset, from C or Python);
 *   - plat_l1_used, as the kernels see it, includes a reserve for the redzones of the tile buffers
 *     still to come (two per core), so that tiles sized from the free budget still fit.
 * Results are unchanged; an L1 budget that is just enough in the normal build can be a little too
 * small here. Direct calls from Python (cffi) reach the unwrapped functions.
 */
#include <sanitizer/asan_interface.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "platform_host.h"

#define L1_ASAN_REDZONE 32u

void *__real_plat_l1_alloc(size_t bytes);
size_t __real_plat_l1_used(void);
void *__wrap_plat_l1_alloc(size_t bytes);
size_t __wrap_plat_l1_used(void);

static unsigned char *arena;   /* start of the arena (the first buffer after a reset) */

static size_t round16(size_t n) { return (n + 15u) & ~(size_t)15u; }

void *__wrap_plat_l1_alloc(size_t bytes)
{
    unsigned char *p;
    size_t total, end;
    int empty = __real_plat_l1_used() == 0;
    if (empty && arena) ASAN_UNPOISON_MEMORY_REGION(arena, plat_host_l1_capacity());
    if (bytes > SIZE_MAX / 2) return NULL;
    total = round16(bytes + L1_ASAN_REDZONE);
    p = (unsigned char *)__real_plat_l1_alloc(total);
    if (!p) return NULL;
    if (empty) arena = p;
    end = (size_t)(p - arena) + total;   /* poison the redzone and everything not handed out yet */
    ASAN_UNPOISON_MEMORY_REGION(p, bytes);
    ASAN_POISON_MEMORY_REGION(p + bytes, plat_host_l1_capacity() - end + (total - bytes));
    return p;
}

size_t __wrap_plat_l1_used(void) { return __real_plat_l1_used() + 2u * PLAT_MAX_CORES * L1_ASAN_REDZONE; }
