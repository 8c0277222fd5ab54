/* PMSIS port: opening the cluster (stacks, L1 arena), the memory the chip has beyond the SDK's
 * description of it, debug output, files on the host (PMSIS host file system: semihosting, over
 * JTAG on a board, handled by GVSoC in simulation) and the simulation pause of the mailbox. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pmsis.h"
#include "bsp/fs.h"
#include "bsp/fs/hostfs.h"

#include "../platform.h"
#include "mailbox.h"
#include "pmsis_port.h"
#include "pulp.h"

#define STACK_FILL 0x5A5A5A5Au
#define HOST_FILES 4

static uint32_t fc_stack[PMSIS_FC_STACK_BYTES / 4] __attribute__((aligned(16)));

extern struct pi_device pmsis_cluster_dev;
extern void *pmsis_cluster_stacks;
extern pmsis_core_state_t *pmsis_cores;
void pmsis_l1_set_arena(void *base, size_t bytes);

static struct pi_device hostfs;
static int hostfs_mounted;
static pi_fs_file_t *host_files[HOST_FILES];

/* The largest block pi_cl_l1_malloc can give now (bisection over its answers). */
static size_t largest_l1_block(void)
{
    size_t lo = 0, hi = 1u << 20;
    while (hi - lo > 16) {
        size_t mid = (lo + hi) / 2 & ~(size_t)15;
        void *p = pi_cl_l1_malloc(&pmsis_cluster_dev, (uint32_t)mid);
        if (p) {
            pi_cl_l1_free(&pmsis_cluster_dev, p, (uint32_t)mid);
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

int pmsis_port_open(void)
{
    struct pi_cluster_conf conf;
    size_t stack_bytes = (size_t)PLAT_MAX_CORES * PMSIS_CLUSTER_STACK_BYTES, bytes;
    uint8_t *arena;
#if defined(PMSIS_L2_EXTRA_FROM) && defined(PMSIS_L2_EXTRA_TO)
    /* pulp-sdk describes pulp-open's L2 as 448 kB of shared banks (ARCHI_L2_SHARED_SIZE); GVSoC's
     * pulp-open has 1.5 MB, as the chip the pulp port targets. The rest is handed to the
     * runtime's L2 allocator, which joins it to the free block that ends where its view ends. */
    pi_l2_free((void *)(uintptr_t)PMSIS_L2_EXTRA_FROM, (int)(PMSIS_L2_EXTRA_TO - PMSIS_L2_EXTRA_FROM));
#endif
    pulp_mailbox_init();
    pi_cluster_conf_init(&conf);
    conf.id = 0;
    pi_open_from_conf(&pmsis_cluster_dev, &conf);
    if (pi_cluster_open(&pmsis_cluster_dev)) return -1;
    pmsis_cluster_stacks = pi_cl_l1_malloc(&pmsis_cluster_dev, (uint32_t)stack_bytes);
    pmsis_cores = (pmsis_core_state_t *)pi_cl_l1_malloc(&pmsis_cluster_dev, PLAT_MAX_CORES * sizeof *pmsis_cores);
    if (!pmsis_cluster_stacks || !pmsis_cores) return -2;
    memset(pmsis_cores, 0, PLAT_MAX_CORES * sizeof *pmsis_cores);
    for (uint32_t *p = (uint32_t *)pmsis_cluster_stacks; p < (uint32_t *)((uint8_t *)pmsis_cluster_stacks + stack_bytes);)
        *p++ = STACK_FILL;
    bytes = largest_l1_block();
    arena = bytes ? (uint8_t *)pi_cl_l1_malloc(&pmsis_cluster_dev, (uint32_t)bytes) : NULL;
    if (arena) {      /* 16-byte aligned, as plat_l1_alloc hands it out */
        size_t skip = (size_t)(-(uintptr_t)arena & 15u);
        pmsis_l1_set_arena(arena + skip, bytes - skip);
    }
    return 0;
}

int pmsis_run_main(int (*fn)(void))
{
    int rc;
    for (size_t i = 0; i < sizeof fc_stack / 4; i++) fc_stack[i] = STACK_FILL;
    /* the old stack pointer is kept at the bottom of the new stack's first 16 bytes; fn preserves
     * the callee-saved registers (the compiler keeps fn and the new top in two of them) */
    __asm__ volatile("mv t0, sp\n"
                     "addi sp, %[top], -16\n"
                     "sw t0, 0(sp)\n"
                     "jalr %[fn]\n"
                     "lw sp, 0(sp)\n"
                     "mv %[rc], a0\n"
                     : [rc] "=r"(rc)
                     : [top] "r"((uint8_t *)fc_stack + sizeof fc_stack), [fn] "r"(fn)
                     : "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "a0", "a1", "a2", "a3", "a4", "a5", "a6",
                       "a7", "memory");
    return rc;
}

size_t pmsis_fc_stack_peak(void)
{
    const uint32_t *p = fc_stack;
    while (p < fc_stack + sizeof fc_stack / 4 && *p == STACK_FILL) p++;
    return (size_t)((const uint8_t *)(fc_stack + sizeof fc_stack / 4) - (const uint8_t *)p);
}

/* Core c's stack: the master's first, then the others', each PMSIS_CLUSTER_STACK_BYTES, the
 * stack pointer starting at the top of each (pi_cluster_task's layout). */
size_t pulp_stack_peak(int core)
{
    const uint32_t *lo, *hi;
    if (!pmsis_cluster_stacks || core < 0 || core >= PLAT_MAX_CORES) return 0;
    lo = (const uint32_t *)(const void *)((const uint8_t *)pmsis_cluster_stacks + (size_t)core * PMSIS_CLUSTER_STACK_BYTES);
    hi = lo + PMSIS_CLUSTER_STACK_BYTES / 4;
    while (lo < hi && *lo == STACK_FILL) lo++;
    return (size_t)(hi - lo) * 4u;
}

void pulp_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void pulp_puts(const char *s) { printf("%s", s); }

/* ---- files on the host (PMSIS host file system) ---------------------------------------------- */

int pulp_host_open(const char *path, int mode)
{
    int fd;
    if (!hostfs_mounted) {
        struct pi_hostfs_conf conf;
        pi_hostfs_conf_init(&conf);
        pi_open_from_conf(&hostfs, &conf);
        if (pi_fs_mount(&hostfs)) return -1;
        hostfs_mounted = 1;
    }
    for (fd = 0; fd < HOST_FILES && host_files[fd]; fd++)
        ;
    if (fd == HOST_FILES) return -1;
    host_files[fd] = pi_fs_open(&hostfs, path, mode == 0 ? PI_FS_FLAGS_READ : PI_FS_FLAGS_WRITE);
    return host_files[fd] ? fd : -1;
}

int pulp_host_close(int fd)
{
    if (fd < 0 || fd >= HOST_FILES || !host_files[fd]) return -1;
    pi_fs_close(host_files[fd]);
    host_files[fd] = NULL;
    return 0;
}

long pulp_host_read(int fd, void *buf, size_t n)
{
    if (fd < 0 || fd >= HOST_FILES || !host_files[fd]) return -1;
    return (long)pi_fs_read(host_files[fd], buf, (uint32_t)n);
}

long pulp_host_write(int fd, const void *buf, size_t n)
{
    if (fd < 0 || fd >= HOST_FILES || !host_files[fd]) return -1;
    return (long)pi_fs_write(host_files[fd], (void *)(uintptr_t)buf, (uint32_t)n);
}

/* GVSoC's syscall_stop (semihosting 0x10D): the host, connected to the proxy, serves the mailbox
 * and resumes the simulation. The exact three-instruction semihosting sequence, uncompressed. */
void pulp_host_stop(void)
{
    register long op __asm__("a0") = 0x10D;
    register long arg __asm__("a1") = 0;
    __asm__ volatile(".option push\n.option norvc\n"
                     "slli zero, zero, 0x1f\nebreak\nsrai zero, zero, 7\n"
                     ".option pop"
                     : "+r"(op)
                     : "r"(arg)
                     : "memory");
}
