/* PMSIS port: the team of cluster cores, the cycle counter and the phase statistics.
 *
 * Fork from the FC: one cluster task per fork (pi_cluster_send_task_to_cl, which waits for it);
 * its entry runs on the cluster's master core and forks the team there (pi_cl_team_fork, the
 * master taking part). Each core of the team runs fn(arg) inside a wrapper that records, when the
 * fork is recorded, how long it worked in each phase (code between team barriers) and when each
 * phase ended, as the pulp port does with its event-unit barriers: pulp_phases and the per-hop
 * costs read them. The signal chain's forks are unrecorded (pulp_team_fork_unrecorded).
 */
#include "pmsis.h"

#include "../platform.h"
#include "pmsis_port.h"
#include "pulp.h"

typedef struct team_job {
    void (*fn)(void *arg);
    void *arg;
    int n;
    uint32_t record;
    uint32_t start, end;          /* master's mcycle before the fork and after the join */
} team_job_t;

pmsis_core_state_t *pmsis_cores;        /* PLAT_MAX_CORES entries in L1 (pmsis_port_open) */
static PI_CL_L1 team_job_t job;

struct pi_device pmsis_cluster_dev;     /* opened by pmsis_port_open (boot.c) */
void *pmsis_cluster_stacks;             /* the cluster stacks (PLAT_MAX_CORES x PMSIS_CLUSTER_STACK_BYTES) */
static struct pi_cluster_task task;
static uint32_t fc_cyc_last, fc_cyc_hi;
static uint32_t last_n_phases, last_start, last_end;
static int last_n_cores;

static inline uint32_t mcycle(void)
{
    uint32_t c;
    __asm__ volatile("csrr %0, mcycle" : "=r"(c));
    return c;
}

static inline int on_fc(void) { return pi_is_fc(); }

uint64_t plat_cycles(void)
{
    uint32_t now = mcycle();
    if (on_fc()) {
        if (now < fc_cyc_last) fc_cyc_hi++;
        fc_cyc_last = now;
        return ((uint64_t)fc_cyc_hi << 32) | now;
    }
    pmsis_core_state_t *s = &pmsis_cores[pi_core_id()];
    if (now < s->cyc_last) s->cyc_hi++;
    s->cyc_last = now;
    return ((uint64_t)s->cyc_hi << 32) | now;
}

int plat_core_id(void) { return on_fc() ? 0 : (int)pi_core_id(); }

int plat_num_cores(void) { return on_fc() ? 1 : pi_cl_team_nb_cores(); }

/* The calling core finished phase k at `now`; the barrier released it at `after`. */
static void phase_done(pmsis_core_state_t *s, uint32_t now, uint32_t after)
{
    uint32_t k = s->n_phases;
    s->busy += now - s->phase_start;
    if (k < PMSIS_MAX_PHASES) {
        s->worked[k] = now - s->phase_start;
        s->end[k] = after;
        s->n_phases = k + 1;
    }
    s->phase_start = after;
}

void plat_team_barrier(void)
{
    uint32_t now, after;
    if (on_fc() || pi_cl_team_nb_cores() <= 1) return;
    now = mcycle();
    pi_cl_team_barrier();
    after = mcycle();
    if (job.record) phase_done(&pmsis_cores[pi_core_id()], now, after);
}

/* every core of the team */
static void team_entry(void *arg)
{
    team_job_t *j = (team_job_t *)arg;
    pmsis_core_state_t *s = &pmsis_cores[pi_core_id()];
    s->phase_start = mcycle();
    s->n_phases = 0;
    j->fn(j->arg);
    if (j->record) phase_done(s, mcycle(), 0);      /* its end: the join, set by the master */
    else s->busy += mcycle() - s->phase_start;
}

/* the cluster task: on the master core */
static void cluster_entry(void *arg)
{
    team_job_t *j = (team_job_t *)arg;
    j->start = mcycle();
    pi_cl_team_fork(j->n, team_entry, j);
    j->end = mcycle();
}

static void team_fork(int n, void (*fn)(void *arg), void *arg, uint32_t record)
{
    if (n < 1) n = 1;
    if (n > PLAT_MAX_CORES) n = PLAT_MAX_CORES;
    if (!on_fc()) {           /* nested fork from a cluster core: run inline */
        fn(arg);
        return;
    }
    job.fn = fn;
    job.arg = arg;
    job.n = n;
    job.record = record;
    pi_cluster_task(&task, cluster_entry, &job);
    task.stacks = pmsis_cluster_stacks;
    task.stack_size = PMSIS_CLUSTER_STACK_BYTES;
    task.slave_stack_size = PMSIS_CLUSTER_STACK_BYTES;
    task.nb_cores = PLAT_MAX_CORES;
    pi_cluster_send_task_to_cl(&pmsis_cluster_dev, &task);
    if (record) {
        last_n_phases = pmsis_cores[0].n_phases;
        last_n_cores = n;
        last_start = job.start;
        last_end = job.end;
    }
}

void plat_team_fork(int n, void (*fn)(void *arg), void *arg) { team_fork(n, fn, arg, 1u); }

void pulp_team_fork_unrecorded(int n, void (*fn)(void *arg), void *arg) { team_fork(n, fn, arg, 0u); }

uint64_t pulp_core_busy(int core) { return core >= 0 && core < PLAT_MAX_CORES ? pmsis_cores[core].busy : 0; }

int pulp_phases(uint32_t *total, uint32_t *busiest, int max)
{
    int n = (int)last_n_phases < max ? (int)last_n_phases : max;
    uint32_t from = last_start;
    for (int k = 0; k < n; k++) {
        uint32_t most = 0, to = k + 1 == (int)last_n_phases ? last_end : pmsis_cores[0].end[k];
        for (int c = 0; c < last_n_cores; c++)
            if (k < (int)pmsis_cores[c].n_phases && pmsis_cores[c].worked[k] > most) most = pmsis_cores[c].worked[k];
        total[k] = to - from;
        busiest[k] = most;
        from = to;
    }
    return n;
}
