/*
 * Team fork and barrier for the worker harts 1..n, driven by hart 0, and the accounting of
 * instructions per core and per phase. Waiting harts sleep in WFI (virt_wait_*).
 *
 * Parallel mode (default): every core runs freely between barriers.
 * Serial mode (boot argument "icount", see virt.h): the cores take turns. Core k runs until it
 * reaches a barrier (or the end of the job), then hands the turn to core k+1; the turn goes
 * round, so core k runs again only after every core has reached the barrier. As every core
 * runs the same barriers and its share of the work is fixed, each core executes exactly the
 * instructions it executes in parallel mode; and since only one hart runs at a time, the global
 * instruction counter's advance while core k holds the turn is core k's own count.
 */
#include "virt.h"

static struct {
    void (*fn)(void *);
    void *arg;
    int n;
} job;
static volatile uint32_t job_gen, job_done, bar_count, bar_gen;
static volatile uint32_t turn;   /* serial mode: the team core that may run */
enum { MIE_MTIE = 1u << 7, MIE_MEIE = 1u << 11 };
static uint64_t busy[VIRT_HARTS], awake_since[VIRT_HARTS];

/* Phase log of the last fork: a phase is the code between two team barriers. end[k] is the
 * counter when the last core finished phase k; busiest[k] the longest any core worked in it. */
static struct {
    volatile uint32_t n;
    uint64_t start;
    uint64_t end[VIRT_MAX_PHASES];
    volatile uint32_t busiest[VIRT_MAX_PHASES];
} phase_log;
static uint64_t phase_start[VIRT_HARTS];
/* serial mode: instructions each hart executed inside the phases (holding the turn), cumulative */
static uint64_t phase_work[VIRT_HARTS];

static void atomic_max32(volatile uint32_t *p, uint32_t v)
{
    uint32_t old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (v > old && !__atomic_compare_exchange_n(p, &old, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
}

/* The calling core finished its part of the current phase (called before it is counted in). */
static void phase_note(int hart, uint64_t now)
{
    uint32_t k = phase_log.n;
    uint64_t worked = now - phase_start[hart];
    phase_work[hart] += worked;
    if (k < VIRT_MAX_PHASES)
        atomic_max32(&phase_log.busiest[k], worked > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)worked);
}

/* The last core of the team finished the current phase. */
static void phase_close(uint64_t now)
{
    uint32_t k = phase_log.n;
    if (k < VIRT_MAX_PHASES) {
        phase_log.end[k] = now;
        __atomic_store_n(&phase_log.n, k + 1, __ATOMIC_SEQ_CST);
    }
}

int virt_phases(uint32_t *total, uint32_t *busiest, int max)
{
    int n = (int)phase_log.n < max ? (int)phase_log.n : max;
    for (int i = 0; i < n; i++) {
        uint64_t from = i ? phase_log.end[i - 1] : phase_log.start;
        uint64_t t = phase_log.end[i] - from;
        total[i] = t > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)t;
        busiest[i] = phase_log.busiest[i];
    }
    return n;
}

int plat_core_id(void)
{
    int h = virt_hart_id();
    return h == 0 ? 0 : h - 1;
}

int plat_num_cores(void)
{
    return virt_hart_id() == 0 ? 1 : job.n;
}

uint64_t virt_busy(int hart)
{
    /* serial mode: only the instructions the hart ran while holding the turn, which are exactly
     * its own; its awake time may also cover other harts' instructions (a hart that was woken
     * runs until its WFI only when QEMU schedules it) */
    return virt_boot.icount ? phase_work[hart] : busy[hart];
}

static void sleep_begin(int h) { busy[h] += plat_cycles() - awake_since[h]; }
static void sleep_end(int h) { awake_since[h] = plat_cycles(); }

void virt_wait_change(volatile uint32_t *word, uint32_t old)
{
    int h = virt_hart_id();
    sleep_begin(h);
    for (;;) {
        virt_clear_wake();
        if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != old)
            break;
        __asm__ volatile("wfi");
    }
    sleep_end(h);
}

void virt_wait_value(volatile uint32_t *word, uint32_t want)
{
    int h = virt_hart_id();
    sleep_begin(h);
    for (;;) {
        virt_clear_wake();
        if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == want)
            break;
        __asm__ volatile("wfi");
    }
    sleep_end(h);
}

/* serial mode: give the turn to the next core of the team */
static void pass_turn(int core, int n)
{
    int next = core + 1 < n ? core + 1 : 0;
    __atomic_store_n(&turn, (uint32_t)next, __ATOMIC_SEQ_CST);
    virt_wake(next + 1);
}

void plat_team_fork(int n, void (*fn)(void *arg), void *arg)
{
    int workers = virt_workers();
    if (n > workers)
        n = workers;
    if (n < 1) {   /* no worker hart: the controller runs the job alone */
        fn(arg);
        return;
    }
    job.fn = fn;
    job.arg = arg;
    job.n = n;
    phase_log.n = 0;
    for (int k = 0; k < VIRT_MAX_PHASES; k++)
        phase_log.busiest[k] = 0;
    phase_log.start = plat_cycles();
    __atomic_store_n(&turn, 0u, __ATOMIC_SEQ_CST);
    __atomic_store_n(&job_done, 0u, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&job_gen, 1u, __ATOMIC_SEQ_CST);
    if (virt_boot.icount)
        virt_wake(1);
    else
        for (int h = 1; h <= n; h++)
            virt_wake(h);
    /* Wait for the team with only its wake-up enabled. A pending UART receive interrupt (the host
     * sends the next frames while the team works) would end every WFI at once and make the
     * controller spin; under -icount those instructions would run between the team's and land in
     * the counts. The UART loses nothing meanwhile: QEMU keeps the bytes until the FIFO has room. */
    uint32_t mie;
    __asm__ volatile("csrrc %0, mie, %1" : "=r"(mie) : "r"(MIE_MEIE | MIE_MTIE));
    virt_wait_value(&job_done, (uint32_t)n);
    __asm__ volatile("csrw mie, %0" ::"r"(mie));
}

void plat_team_barrier(void)
{
    int n = plat_num_cores();
    if (n <= 1)
        return;
    int self = virt_hart_id(), core = self - 1;
    uint32_t gen = __atomic_load_n(&bar_gen, __ATOMIC_SEQ_CST);
    uint64_t now = plat_cycles();
    phase_note(self, now);
    int last = __atomic_add_fetch(&bar_count, 1u, __ATOMIC_SEQ_CST) == (uint32_t)n;
    if (last) {
        phase_close(now);
        __atomic_store_n(&bar_count, 0u, __ATOMIC_SEQ_CST);
        __atomic_store_n(&bar_gen, gen + 1, __ATOMIC_SEQ_CST);
    }
    if (virt_boot.icount) {
        pass_turn(core, n);
        virt_wait_value(&turn, (uint32_t)core);
    } else if (last) {
        for (int h = 1; h <= n; h++)
            if (h != self)
                virt_wake(h);
    } else {
        virt_wait_change(&bar_gen, gen);
    }
    phase_start[self] = plat_cycles();
}

void virt_worker_loop(int hart)
{
    uint32_t seen = 0;
    int core = hart - 1;
    awake_since[hart] = plat_cycles();
    for (;;) {
        virt_wait_change(&job_gen, seen);
        seen = __atomic_load_n(&job_gen, __ATOMIC_SEQ_CST);
        int n = job.n;
        if (core >= n)
            continue;
        if (virt_boot.icount)
            virt_wait_value(&turn, (uint32_t)core);
        phase_start[hart] = plat_cycles();
        job.fn(job.arg);
        uint64_t now = plat_cycles();
        phase_note(hart, now);
        int last = __atomic_add_fetch(&job_done, 1u, __ATOMIC_SEQ_CST) == (uint32_t)n;
        if (last)
            phase_close(now);
        if (virt_boot.icount && !last)
            pass_turn(core, n);
        if (last)
            virt_wake(0);
    }
}
