/* Checks of the PMSIS port, one per line as "name: ok|FAIL ...", then measurements "measure: name
 * value"; the exit status is the number of failed checks (tests/test_pmsis.py reads them).
 *   boot     the cluster opened, stacks and L1 arena taken, the cycle counters count (FC, cluster)
 *   team     plat_core_id / plat_num_cores / barriers on 1..8 cores (rnnse_harness_team)
 *   phases   a fork with two barriers is recorded as three phases, each core's work in its phase
 *   dma      every core copies its own L2 block into L1 with two transfers in flight, and back
 *   dma_long a copy longer than one PMSIS DMA command (several commands, one wait)
 *   dma_off  with transfers turned off (measurements) a start copies nothing
 *   dma_fc   a transfer started by the FC is a copy done at start
 *   l1       the arena hands out 16-byte aligned blocks within its budget, and refuses beyond
 *   l2       the L2 beyond the SDK's description of pulp-open is usable (one 1.2 MB block)
 *   stacks   no cluster stack was overrun
 * Measurements: a fork from the FC (a cluster task and the team's fork and join), a barrier, the
 * DMA bytes per cycle (8 cores, 4 kB each x 2). */
#include <string.h>

#include "pmsis.h"

#include "platform.h"
#include "pmsis_port.h"
#include "pulp.h"
#include "pulp_internal.h"
#include "rnnse_harness.h"

static int failures;

/* the runtime's minimal libc declares no memcmp */
static int differ(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 1;
    return 0;
}

static void check(const char *name, int ok, const char *detail)
{
    printf("%s: %s%s%s\n", name, ok ? "ok" : "FAIL", ok ? "" : " ", ok ? "" : detail);
    if (!ok) failures++;
}

static void empty(void *arg) { (void)arg; }

static void barriers(void *arg)
{
    int rounds = *(int *)arg;
    for (int i = 0; i < rounds; i++) plat_team_barrier();
}

/* ---- cycle counter -------------------------------------------------------------------------- */
static uint64_t cl_cycles[2];

static void cluster_cycles(void *arg)
{
    (void)arg;
    if (plat_core_id() == 0) {
        cl_cycles[0] = plat_cycles();
        for (volatile int i = 0; i < 100; i++)
            ;
        cl_cycles[1] = plat_cycles();
    }
}

/* ---- phases --------------------------------------------------------------------------------- */
static void three_phases(void *arg)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        if (plat_core_id() == k) {     /* core k works longer in phase k */
            for (volatile int i = 0; i < 400; i++)
                ;
        }
        if (k < 2) plat_team_barrier();
    }
}

/* ---- DMA ------------------------------------------------------------------------------------ */
#define DMA_BLOCK 2048
static uint8_t l2_src[PLAT_MAX_CORES][2][DMA_BLOCK] __attribute__((aligned(16)));
static uint8_t l2_back[PLAT_MAX_CORES][DMA_BLOCK] __attribute__((aligned(16)));

typedef struct {
    uint8_t *l1;
    int bad[PLAT_MAX_CORES];
    uint32_t cycles[PLAT_MAX_CORES];
} dma_job_t;

static void dma_team(void *arg)
{
    dma_job_t *j = (dma_job_t *)arg;
    int c = plat_core_id();
    uint8_t *dst = j->l1 + (size_t)c * 2 * DMA_BLOCK;
    plat_dma_t a, b;
    uint64_t t0 = plat_cycles();
    plat_dma_start(&a, dst, l2_src[c][0], DMA_BLOCK);
    plat_dma_start(&b, dst + DMA_BLOCK, l2_src[c][1], DMA_BLOCK);
    plat_dma_wait(&a);
    plat_dma_wait(&b);
    j->cycles[c] = (uint32_t)(plat_cycles() - t0);
    j->bad[c] = differ(dst, l2_src[c][0], DMA_BLOCK) || differ(dst + DMA_BLOCK, l2_src[c][1], DMA_BLOCK);
    pulp_dma_out_start(&a, l2_back[c], dst + DMA_BLOCK, DMA_BLOCK);
    plat_dma_wait(&a);
}

typedef struct {
    uint8_t *l1;
    const uint8_t *l2;
    size_t bytes;
    int off;
} long_job_t;

static void dma_long_team(void *arg)
{
    long_job_t *j = (long_job_t *)arg;
    plat_dma_t d;
    if (plat_core_id() != 0) return;
    if (j->off) pulp_dma_set_enabled(0);
    plat_dma_start(&d, j->l1, j->l2, j->bytes);
    plat_dma_wait(&d);
    pulp_dma_set_enabled(1);
}

static void check_dma(void)
{
    dma_job_t j;
    size_t need = (size_t)PLAT_MAX_CORES * 2 * DMA_BLOCK;
    int bad = 0;
    uint32_t most = 0;
    plat_l1_reset();
    j.l1 = (uint8_t *)plat_l1_alloc(need);
    if (!j.l1) {
        check("dma", 0, "no L1 for the test");
        return;
    }
    for (int c = 0; c < PLAT_MAX_CORES; c++)
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < DMA_BLOCK; i++) l2_src[c][k][i] = (uint8_t)(i * 7 + c * 31 + k * 13);
    memset(j.l1, 0, need);
    memset(l2_back, 0, sizeof l2_back);
    plat_team_fork(PLAT_MAX_CORES, dma_team, &j);
    for (int c = 0; c < PLAT_MAX_CORES; c++) {
        bad += j.bad[c] + (differ(l2_back[c], l2_src[c][1], DMA_BLOCK));
        if (j.cycles[c] > most) most = j.cycles[c];
    }
    check("dma", bad == 0, "wrong bytes after the copies in or out");
    printf("measure: dma_bytes %u dma_cycles %u\n", (unsigned)need, (unsigned)most);
    {   /* longer than one PMSIS DMA command: 48 kB from one L2 block */
        long_job_t lj;
        size_t bytes = 48u * 1024u;
        uint8_t *l1, *l2 = (uint8_t *)pi_l2_malloc((int)bytes);
        plat_l1_reset();
        l1 = (uint8_t *)plat_l1_alloc(bytes);
        if (!l1 || !l2) {
            check("dma_long", 0, "no room for the check");
        } else {
            for (size_t i = 0; i < bytes; i++) l2[i] = (uint8_t)(i * 13u + (i >> 11));
            memset(l1, 0, bytes);
            lj.l1 = l1;
            lj.l2 = l2;
            lj.bytes = bytes;
            lj.off = 0;
            plat_team_fork(1, dma_long_team, &lj);
            check("dma_long", bytes > PMSIS_DMA_MAX_BYTES && !differ(l1, l2, bytes), "wrong bytes after a long copy");
            memset(l1, 0, bytes);
            lj.off = 1;
            plat_team_fork(1, dma_long_team, &lj);
            bad = 0;
            for (size_t i = 0; i < bytes; i++) bad |= l1[i];
            check("dma_off", bad == 0, "a transfer turned off copied bytes");
        }
        if (l2) pi_l2_free(l2, (int)bytes);
    }
    {
        plat_dma_t d;
        uint8_t buf[64];
        memset(buf, 0, sizeof buf);
        plat_dma_start(&d, buf, l2_src[0][0], sizeof buf);
        int same = !differ(buf, l2_src[0][0], sizeof buf);
        plat_dma_wait(&d);
        check("dma_fc", same && d.pending == 0, "the FC's copy was not done at start");
    }
    plat_l1_reset();
}

static int checks(void)
{
    int rc = pmsis_port_open();
    uint64_t f0 = plat_cycles();
    for (volatile int i = 0; i < 100; i++)
        ;
    uint64_t f1 = plat_cycles();
    plat_team_fork(1, cluster_cycles, NULL);
    check("boot", rc == 0 && plat_l1_budget() >= 32768 && f1 > f0 && cl_cycles[1] > cl_cycles[0],
          "cluster not opened, L1 arena too small or a cycle counter stands still");
    printf("measure: l1_arena %u\n", (unsigned)plat_l1_budget());
    if (rc != 0) return 1;

    {
        int bad = 0;
        for (int n = 1; n <= PLAT_MAX_CORES; n++) {
            int ids[PLAT_MAX_CORES], sizes[PLAT_MAX_CORES];
            for (int i = 0; i < PLAT_MAX_CORES; i++) ids[i] = sizes[i] = -1;
            bad += rnnse_harness_team(n, 20, ids, sizes);
            for (int i = 0; i < PLAT_MAX_CORES; i++)
                if (i < n ? (ids[i] != i || sizes[i] != n) : (ids[i] != -1 || sizes[i] != -1)) bad++;
        }
        check("team", bad == 0, "wrong ids, sizes or barrier order");
    }
    {
        uint32_t total[8], busiest[8];
        int n;
        plat_team_fork(PLAT_MAX_CORES, three_phases, NULL);
        n = pulp_phases(total, busiest, 8);
        check("phases", n == 3 && busiest[0] > 400 && busiest[1] > 400 && busiest[2] > 400 && total[0] >= busiest[0] &&
                            total[1] >= busiest[1] && total[2] >= busiest[2],
              "three phases expected, each with its busiest core's work");
    }
    {
        uint64_t t0 = plat_cycles();
        int rounds = 100;
        for (int k = 0; k < 10; k++) plat_team_fork(PLAT_MAX_CORES, empty, NULL);
        printf("measure: fork_join_cycles %u\n", (unsigned)((plat_cycles() - t0) / 10));
        t0 = plat_cycles();
        plat_team_fork(PLAT_MAX_CORES, barriers, &rounds);
        printf("measure: fork_100_barriers_cycles %u\n", (unsigned)(plat_cycles() - t0));
    }
    check_dma();
    {
        size_t budget = plat_l1_budget(), got = 0;
        int ok = 1;
        uint8_t *p;
        plat_l1_reset();
        while ((p = (uint8_t *)plat_l1_alloc(1000)) != NULL) {
            ok &= ((uintptr_t)p & 15u) == 0;
            got += 1008;
        }
        ok &= got <= budget && got + 1008 > budget && plat_l1_used() == got;
        plat_l1_set_budget(4096);
        ok &= plat_l1_budget() == 4096;
        plat_l1_reset();
        ok &= plat_l1_alloc(4097) == NULL && plat_l1_alloc(4096) != NULL;
        plat_l1_set_budget(budget);
        plat_l1_reset();
        check("l1", ok, "wrong alignment, budget or refusal");
    }
    {
        void *big = pi_l2_malloc(1200 * 1024);
        check("l2", big != NULL, "1.2 MB of L2 could not be allocated");
        if (big) {
            memset(big, 0xA5, 1200 * 1024);
            pi_l2_free(big, 1200 * 1024);
        }
    }
    {
        int bad = 0;
        for (int c = 0; c < PLAT_MAX_CORES; c++) {
            size_t peak = pulp_stack_peak(c);
            printf("measure: stack_peak_core%d %u\n", c, (unsigned)peak);
            bad += peak >= PMSIS_CLUSTER_STACK_BYTES;
        }
        check("stacks", bad == 0, "a cluster stack was used to its end");
    }
    printf("failures: %d\n", failures);
    return failures;
}

int main(void) { return pmsis_run_main(checks); }
