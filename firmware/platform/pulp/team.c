/* Team of cluster cores: fork from the FC through a software event, barriers and join through the
 * event unit's hardware barriers, cycle counting.
 *
 * Fork (FC):  job <- (fn, arg, n); software event 0 to cores 0..7; poll job.done.
 * Cluster core c, in its dispatcher loop: sleeps on software event 0; on wake-up runs fn(arg) when
 * c < n (team barriers: hardware barrier n), then every core passes barrier 8 (the join) and
 * core 0 raises job.done. A core waits for one kind of event at a time (its event mask holds
 * either the software event or the barrier event), so a fork requested while a core is still
 * leaving the join barrier stays pending instead of being cleared with the barrier event.
 */
#include "../platform.h"
#include "pulp.h"
#include "pulp_internal.h"

typedef struct pulp_job {
    void (*fn)(void *arg);
    void *arg;
    volatile int32_t n;
    volatile uint32_t done;       /* forks finished (core 0 increments it after the join) */
    volatile uint32_t ready;      /* the cluster has booted */
    volatile uint32_t record;     /* 1: the cores record the fork's phases (pulp_phases) */
    uint32_t start;               /* cluster mcycle when core 0 woke up for the current fork */
} pulp_job_t;

static pulp_job_t job __attribute__((section(".l1.job")));
pulp_core_state_t pulp_cores[8] __attribute__((section(".l1.cores")));
static uint32_t fc_cyc_last, fc_cyc_hi;
static uint32_t last_n_phases;
static int last_n_cores;          /* cores of the last recorded fork */

#define EVT_SW (1u << PULP_EVT_SW0)
#define EVT_BARRIER (1u << PULP_EVT_BARRIER)

uint64_t plat_cycles(void)
{
    uint32_t now = pulp_mcycle();
    if (pulp_is_fc()) {
        if (now < fc_cyc_last) fc_cyc_hi++;
        fc_cyc_last = now;
        return ((uint64_t)fc_cyc_hi << 32) | now;
    }
    pulp_core_state_t *s = &pulp_cores[pulp_cluster_core()];
    if (now < s->cyc_last) s->cyc_hi++;
    s->cyc_last = now;
    return ((uint64_t)s->cyc_hi << 32) | now;
}

int plat_core_id(void) { return pulp_is_fc() ? 0 : pulp_cluster_core(); }

int plat_num_cores(void) { return pulp_is_fc() ? 1 : (int)job.n; }

/* Sleep in the event unit until the given event; the time asleep is not counted as busy. */
static inline void eu_sleep(pulp_core_state_t *s, volatile uint32_t *wait_reg)
{
    uint32_t before = pulp_mcycle();
    s->busy += before - s->awake_since;
    (void)*wait_reg;
    s->awake_since = pulp_mcycle();
}

static inline void barrier_wait(pulp_core_state_t *s, int n)
{
    eu_sleep(s, (volatile uint32_t *)(uintptr_t)(PULP_EU_BARRIER(n) + PULP_EU_BARRIER_TRIGGER_WAIT_CLEAR));
}

/* The calling core finished a phase (at `now`) and passed the barrier that ends it. */
static void phase_done(pulp_core_state_t *s, uint32_t now)
{
    uint32_t k = s->n_phases;
    if (k < PULP_MAX_PHASES) {
        s->worked[k] = now - s->phase_start;
        s->end[k] = s->awake_since;
        s->n_phases = k + 1;
    }
    s->phase_start = s->awake_since;
}

void plat_team_barrier(void)
{
    int n = plat_num_cores();
    pulp_core_state_t *s;
    uint32_t now;
    if (n <= 1 || pulp_is_fc()) return;
    s = &pulp_cores[pulp_cluster_core()];
    now = pulp_mcycle();
    barrier_wait(s, n);
    if (job.record) phase_done(s, now);
}

void pulp_cluster_loop(int core)
{
    pulp_core_state_t *s = &pulp_cores[core];
    s->awake_since = pulp_mcycle();
    if (core == 0) {
        for (int n = 1; n <= PULP_CLUSTER_CORES; n++) {
            uint32_t mask = (1u << n) - 1u;
            PULP_REG32(PULP_EU_BARRIER(n) + PULP_EU_BARRIER_TRIGGER_MASK) = mask;
            PULP_REG32(PULP_EU_BARRIER(n) + PULP_EU_BARRIER_TARGET_MASK) = mask;
        }
        job.ready = 1;
    }
    for (;;) {
        int n;
        uint32_t now, rec;
        PULP_REG32(PULP_EU_MASK) = EVT_SW;
        eu_sleep(s, (volatile uint32_t *)(uintptr_t)PULP_EU_EVENT_WAIT_CLEAR);
        PULP_REG32(PULP_EU_MASK) = EVT_BARRIER;
        n = job.n;
        rec = job.record;
        if (rec) {
            s->n_phases = 0;
            s->phase_start = s->awake_since;
            if (core == 0) job.start = s->awake_since;
        }
        if (core < n) job.fn(job.arg);
        now = pulp_mcycle();
        barrier_wait(s, PULP_CLUSTER_CORES);        /* join */
        if (core < n && rec) phase_done(s, now);
        if (core == 0) job.done = job.done + 1u;
    }
}

void pulp_cluster_boot(void)
{
    for (int c = 0; c < PULP_CLUSTER_CORES; c++)
        PULP_REG32(PULP_CLUSTER_BOOTADDR(c)) = (uint32_t)(uintptr_t)pulp_cluster_start;
    PULP_REG32(PULP_CLUSTER_ICACHE_ENABLE) = 0xFFFFFFFFu;
    PULP_REG32(PULP_CLUSTER_FETCH_EN) = (1u << PULP_CLUSTER_CORES) - 1u;
    while (!job.ready)
        ;
}

static void team_fork(int n, void (*fn)(void *arg), void *arg, uint32_t record)
{
    uint32_t done;
    if (n < 1) n = 1;
    if (n > PLAT_MAX_CORES) n = PLAT_MAX_CORES;
    if (!pulp_is_fc()) {          /* nested fork from a cluster core: run inline */
        fn(arg);
        return;
    }
    job.fn = fn;
    job.arg = arg;
    job.n = n;
    job.record = record;
    done = job.done;
    PULP_REG32(PULP_EU_SW_EVENT_TRIGGER(PULP_EVT_SW0)) = (1u << PULP_CLUSTER_CORES) - 1u;
    while (job.done == done)
        ;
    if (record) {
        last_n_phases = pulp_cores[0].n_phases;
        last_n_cores = n;
    }
}

void plat_team_fork(int n, void (*fn)(void *arg), void *arg) { team_fork(n, fn, arg, 1u); }

void pulp_team_fork_unrecorded(int n, void (*fn)(void *arg), void *arg) { team_fork(n, fn, arg, 0u); }

uint64_t pulp_core_busy(int core) { return core >= 0 && core < PULP_CLUSTER_CORES ? pulp_cores[core].busy : 0; }

int pulp_phases(uint32_t *total, uint32_t *busiest, int max)
{
    int n = (int)last_n_phases < max ? (int)last_n_phases : max;
    uint32_t from = job.start;
    for (int k = 0; k < n; k++) {
        uint32_t most = 0;
        for (int c = 0; c < last_n_cores; c++)
            if (k < (int)pulp_cores[c].n_phases && pulp_cores[c].worked[k] > most) most = pulp_cores[c].worked[k];
        total[k] = pulp_cores[0].end[k] - from;
        busiest[k] = most;
        from = pulp_cores[0].end[k];
    }
    return n;
}
