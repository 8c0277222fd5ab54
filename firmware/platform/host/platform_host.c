/*
 * Host port of the platform layer (x86-64 / any POSIX system).
 *
 * - Team: a persistent pool of PLAT_MAX_CORES-1 worker pthreads; the forking thread is core 0.
 *   Idle workers spin for PLAT_HOST_SPIN_NS waiting for the next fork (frames follow each other
 *   closely), then sleep on a condition variable.
 * - Barrier: sense-reversing counter barrier; spins briefly, then yields (the host may have fewer
 *   CPUs than the team has cores).
 * - DMA: asynchronous in effect. plat_dma_start() poisons the destination, plat_dma_wait() copies.
 *   A kernel that reads a buffer before waiting reads poison and fails its test deterministically.
 *   Misuse (starting a pending transfer, waiting on an idle one, a destination outside L1) aborts.
 * - L1: a static arena with a fixed capacity and a run-time budget (default PLAT_L1_BUDGET).
 * - Cycles: nanoseconds from CLOCK_MONOTONIC.
 * - UART: blocking read/write on file descriptors 0 and 1 (or those set by plat_host_uart_fds()).
 */
#define _POSIX_C_SOURCE 200809L
#include "platform.h"
#include "platform_host.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- team ---------------------------------------------------------------------------------- */

#ifndef PLAT_HOST_SPIN_NS
#define PLAT_HOST_SPIN_NS 200000u   /* workers spin this long for the next fork before sleeping */
#endif

static __thread int tls_core_id;       /* 0 outside a fork */
static int team_size = 1;              /* cores in the running team; 1 outside a fork */

static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;   /* one fork at a time */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static pthread_t pool_threads[PLAT_MAX_CORES];
static int pool_started;               /* workers created (ids 1..pool_started) */
/* The published job: (fork number << 8) | team size, written last (release) by the fork, so a
 * worker that sees a new word also sees pool_fn and pool_arg of that fork. */
static uint32_t pool_job;
static int pool_remaining;             /* workers of the current fork not finished yet */
static int pool_sleepers;              /* workers blocked on pool_wake */
static int fork_waiting;               /* the forking thread blocks on pool_done */
static void (*pool_fn)(void *);
static void *pool_arg;
static uint32_t pool_start_job[PLAT_MAX_CORES];   /* pool_job when worker i was created */

/* barrier state */
static unsigned barrier_count;
static unsigned barrier_sense;

int plat_core_id(void) { return tls_core_id; }

int plat_num_cores(void) { return team_size; }

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static uint32_t wait_job(uint32_t seen)
{
    uint64_t t0 = plat_cycles();
    uint32_t job;
    unsigned spin = 0;
    while ((job = __atomic_load_n(&pool_job, __ATOMIC_ACQUIRE)) == seen) {
        cpu_relax();
        if ((++spin & 63u) == 0 && plat_cycles() - t0 > PLAT_HOST_SPIN_NS) {
            pthread_mutex_lock(&pool_lock);
            pool_sleepers++;
            while ((job = __atomic_load_n(&pool_job, __ATOMIC_ACQUIRE)) == seen)
                pthread_cond_wait(&pool_wake, &pool_lock);
            pool_sleepers--;
            pthread_mutex_unlock(&pool_lock);
            break;
        }
    }
    return job;
}

static void *pool_worker(void *p)
{
    int id = (int)(intptr_t)p;
    uint32_t seen = pool_start_job[id];   /* jobs published after the creation are this worker's */
    tls_core_id = id;
    for (;;) {
        seen = wait_job(seen);
        if (id >= (int)(seen & 0xffu)) continue;    /* a fork without this core */
        pool_fn(pool_arg);
        if (__atomic_sub_fetch(&pool_remaining, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&pool_lock);
            if (fork_waiting) pthread_cond_signal(&pool_done);
            pthread_mutex_unlock(&pool_lock);
        }
    }
    return NULL;
}

static void pool_grow(int n)
{
    while (pool_started < n - 1) {
        int id = pool_started + 1;
        pool_start_job[id] = __atomic_load_n(&pool_job, __ATOMIC_RELAXED);
        if (pthread_create(&pool_threads[id], NULL, pool_worker, (void *)(intptr_t)id) != 0) {
            fprintf(stderr, "platform(host): cannot create worker thread %d\n", id);
            abort();
        }
        pthread_detach(pool_threads[id]);
        pool_started = id;
    }
}

void plat_team_fork(int n, void (*fn)(void *arg), void *arg)
{
    uint64_t t0;
    unsigned spin = 0;
    if (n < 1 || n > PLAT_MAX_CORES) {
        fprintf(stderr, "platform(host): plat_team_fork(%d): team size must be 1..%d\n", n, PLAT_MAX_CORES);
        abort();
    }
    pthread_mutex_lock(&fork_lock);
    tls_core_id = 0;
    if (n == 1) {
        team_size = 1;
        fn(arg);
        pthread_mutex_unlock(&fork_lock);
        return;
    }
    pool_grow(n);
    team_size = n;
    barrier_count = 0;
    pool_fn = fn;
    pool_arg = arg;
    __atomic_store_n(&pool_remaining, n - 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&pool_lock);
    __atomic_store_n(&pool_job, ((__atomic_load_n(&pool_job, __ATOMIC_RELAXED) >> 8) + 1u) << 8 | (uint32_t)n,
                     __ATOMIC_RELEASE);
    if (pool_sleepers) pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_lock);

    fn(arg);

    t0 = plat_cycles();
    while (__atomic_load_n(&pool_remaining, __ATOMIC_ACQUIRE) > 0) {
        cpu_relax();
        if ((++spin & 63u) == 0 && plat_cycles() - t0 > PLAT_HOST_SPIN_NS) {
            pthread_mutex_lock(&pool_lock);
            fork_waiting = 1;
            while (__atomic_load_n(&pool_remaining, __ATOMIC_ACQUIRE) > 0) pthread_cond_wait(&pool_done, &pool_lock);
            fork_waiting = 0;
            pthread_mutex_unlock(&pool_lock);
        }
    }
    pool_fn = NULL;
    team_size = 1;
    pthread_mutex_unlock(&fork_lock);
}

void plat_team_barrier(void)
{
    unsigned n = (unsigned)team_size;
    unsigned sense;
    if (n <= 1) return;
    sense = __atomic_load_n(&barrier_sense, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&barrier_count, 1, __ATOMIC_ACQ_REL) == n) {
        __atomic_store_n(&barrier_count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&barrier_sense, sense + 1, __ATOMIC_RELEASE);
        return;
    }
    for (unsigned spin = 0; __atomic_load_n(&barrier_sense, __ATOMIC_ACQUIRE) == sense; spin++) {
        cpu_relax();
        if (spin > 200) sched_yield();   /* the host may have fewer CPUs than the team has cores */
    }
}

/* ---- L1 arena ------------------------------------------------------------------------------ */

#ifndef PLAT_L1_BUDGET
#define PLAT_L1_BUDGET (128u * 1024u - 8u * 1024u)   /* GAP9 L1 minus 8 kB of core stacks */
#endif
#ifndef PLAT_L1_CAPACITY
#define PLAT_L1_CAPACITY (4u * 1024u * 1024u)         /* largest budget a test may set */
#endif

static unsigned char l1_arena[PLAT_L1_CAPACITY] __attribute__((aligned(64)));
static size_t l1_budget = PLAT_L1_BUDGET;
static size_t l1_used;
static pthread_mutex_t l1_lock = PTHREAD_MUTEX_INITIALIZER;

void *plat_l1_alloc(size_t bytes)
{
    void *p = NULL;
    size_t rounded = (bytes + 15u) & ~(size_t)15u;
    pthread_mutex_lock(&l1_lock);
    if (rounded >= bytes && rounded <= l1_budget - l1_used) {
        p = l1_arena + l1_used;
        l1_used += rounded;
    }
    pthread_mutex_unlock(&l1_lock);
    return p;
}

void plat_l1_reset(void)
{
    pthread_mutex_lock(&l1_lock);
    l1_used = 0;
    pthread_mutex_unlock(&l1_lock);
}

size_t plat_l1_budget(void) { return l1_budget; }
size_t plat_l1_used(void) { return l1_used; }

size_t plat_l1_set_budget(size_t bytes)
{
    size_t old;
    pthread_mutex_lock(&l1_lock);
    old = l1_budget;
    if (bytes > PLAT_L1_CAPACITY) bytes = PLAT_L1_CAPACITY;
    if (bytes < l1_used) bytes = l1_used;   /* never strand live allocations */
    l1_budget = bytes;
    pthread_mutex_unlock(&l1_lock);
    return old;
}

size_t plat_host_l1_capacity(void) { return PLAT_L1_CAPACITY; }

int plat_host_in_l1(const void *p, size_t bytes)
{
    const unsigned char *c = (const unsigned char *)p;
    return c >= l1_arena && bytes <= PLAT_L1_CAPACITY && c + bytes <= l1_arena + l1_used;
}

/* ---- DMA ----------------------------------------------------------------------------------- */

static unsigned long long dma_bytes_total;
static unsigned long long dma_transfers_total;

static void dma_fail(const char *what, const plat_dma_t *t)
{
    fprintf(stderr, "platform(host): DMA misuse: %s (dst %p, %zu bytes)\n", what, t->dst, t->bytes);
    abort();
}

void plat_dma_start(plat_dma_t *t, void *dst, const void *src, size_t bytes)
{
    if (t->pending == 1) dma_fail("start on a transfer that is still pending", t);
    t->dst = dst;
    t->src = src;
    t->bytes = bytes;
    if (!plat_host_in_l1(dst, bytes)) dma_fail("destination outside the allocated L1 arena", t);
    memset(dst, PLAT_HOST_DMA_POISON, bytes);
    t->pending = 1;
    __atomic_add_fetch(&dma_bytes_total, (unsigned long long)bytes, __ATOMIC_RELAXED);
    __atomic_add_fetch(&dma_transfers_total, 1ull, __ATOMIC_RELAXED);
}

void plat_dma_wait(plat_dma_t *t)
{
    if (t->pending != 1) dma_fail("wait on a transfer that was not started", t);
    memcpy(t->dst, t->src, t->bytes);
    t->pending = 0;
}

unsigned long long plat_host_dma_bytes(void) { return __atomic_load_n(&dma_bytes_total, __ATOMIC_RELAXED); }
unsigned long long plat_host_dma_transfers(void)
{
    return __atomic_load_n(&dma_transfers_total, __ATOMIC_RELAXED);
}

/* ---- time ---------------------------------------------------------------------------------- */

uint64_t plat_cycles(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- UART ---------------------------------------------------------------------------------- */

static int uart_in_fd = 0, uart_out_fd = 1;

void plat_host_uart_fds(int in_fd, int out_fd)
{
    uart_in_fd = in_fd;
    uart_out_fd = out_fd;
}

void plat_uart_write(const void *buf, size_t n)
{
    const unsigned char *p = (const unsigned char *)buf;
    while (n > 0) {
        ssize_t w = write(uart_out_fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;   /* closed peer: drop, as a UART would */
        }
        p += w;
        n -= (size_t)w;
    }
}

size_t plat_uart_read(void *buf, size_t n, int timeout_ms)
{
    unsigned char *p = (unsigned char *)buf;
    size_t got = 0;
    uint64_t deadline = plat_cycles() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000ull;
    while (got < n) {
        struct pollfd pfd;
        int wait_ms = -1;
        ssize_t r;
        if (timeout_ms >= 0) {
            uint64_t now = plat_cycles();
            if (now >= deadline) break;
            wait_ms = (int)((deadline - now + 999999ull) / 1000000ull);
        }
        pfd.fd = uart_in_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, wait_ms) <= 0) {
            if (errno == EINTR) continue;
            break;
        }
        r = read(uart_in_fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;   /* end of stream */
        got += (size_t)r;
    }
    return got;
}
