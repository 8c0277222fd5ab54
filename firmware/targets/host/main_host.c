/*
 * Host build of the firmware application: serves the protocol on a TCP socket on 127.0.0.1 or on
 * stdin/stdout, with the host platform port (pthreads) underneath.
 *
 *   rnnse_app --port N [options]   listen on 127.0.0.1:N (0: pick a free port); prints
 *                                  "rnnse_app: listening on 127.0.0.1:PORT" on stdout and serves
 *                                  one connection after the other (a BYE ends its connection)
 *   rnnse_app --stdio [options]    protocol on stdin/stdout (messages on stderr)
 * options:
 *   --cores C              cores of the network's team (threads; default 1)
 *   --once                 TCP: exit when the first connection ends
 *   --idle-timeout-s S     TCP: drop a connection that sends nothing for S s (default 30; 0: never)
 *   --frame-timeout-ms T   drop an incomplete frame after T ms without bytes (default 200)
 *   --exit-with-parent     exit when the process that started this one dies (Linux)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "app.h"
#include "app_net.h"
#include "platform.h"

typedef struct fd_pair {
    int in, out;
} fd_pair_t;

static app_t app;

static int fd_read(void *ctx, uint8_t *buf, int n, int timeout_ms)
{
    fd_pair_t *fds = ctx;
    struct pollfd p = {fds->in, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    if (r == 0)
        return 0;
    ssize_t got = read(fds->in, buf, (size_t)n);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    return got <= 0 ? -1 : (int)got;
}

static int fd_write(void *ctx, const uint8_t *buf, int n)
{
    fd_pair_t *fds = ctx;
    while (n > 0) {
        ssize_t put = write(fds->out, buf, (size_t)n);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        buf += put;
        n -= (int)put;
    }
    return 0;
}

int app_target_worker_busy(uint64_t *busy, int max)
{
    (void)busy;
    (void)max;
    return 0;
}

int app_target_phases(uint32_t *total, uint32_t *busiest, int max)
{
    (void)total;
    (void)busiest;
    (void)max;
    return 0;
}

static int listen_loopback(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    if (s < 0)
        return -1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0) {
        close(s);
        return -1;
    }
    printf("rnnse_app: listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return s;
}

typedef struct tcp_opts {
    int port;
    int once;           /* exit when the first connection ends */
    int idle_ms;        /* drop a connection silent this long (< 0: never) */
} tcp_opts_t;

static void serve_connection(int c, int idle_ms)
{
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* a peer that stops reading must not block the device forever */
    struct timeval tv = {5, 0};
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    fd_pair_t fds = {c, c};
    app_io_t io = {&fds, fd_read, fd_write};
    app.io = &io;
    app.idle_timeout_ms = idle_ms;
    app_reset(&app);
    if (app_serve(&app) == APP_IDLE)
        fprintf(stderr, "rnnse_app: connection idle for %d ms, dropped\n", idle_ms);
    close(c);
}

/* Serve connections one after the other, each until it closes, sends BYE or stays idle; forever,
 * or until the first one ends with once. */
static int serve_tcp(const tcp_opts_t *o)
{
    int port = o->port;
    int s = listen_loopback(port);
    if (s < 0) {
        fprintf(stderr, "rnnse_app: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "rnnse_app: accept failed: %s\n", strerror(errno));
            return 1;
        }
        serve_connection(c, o->idle_ms);
        if (o->once)
            break;
    }
    close(s);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: rnnse_app (--port N | --stdio) [--cores C] [--once] [--idle-timeout-s S] "
                    "[--frame-timeout-ms T] [--exit-with-parent]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = -1, use_stdio = 0, cores = 1, once = 0, frame_timeout = 200, idle_s = 30;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cores") && i + 1 < argc)
            cores = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--idle-timeout-s") && i + 1 < argc)
            idle_s = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frame-timeout-ms") && i + 1 < argc)
            frame_timeout = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--stdio"))
            use_stdio = 1;
        else if (!strcmp(argv[i], "--once"))
            once = 1;
        else if (!strcmp(argv[i], "--exit-with-parent")) {
#ifdef __linux__
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() == 1)
                return 0;
#endif
        } else
            usage();
    }
    if ((port < 0) == !use_stdio || port > 65535 || cores < 1 || cores > PLAT_MAX_CORES ||
        frame_timeout < 1 || frame_timeout > 60000 || idle_s < 0 || idle_s > 86400)
        usage();
    signal(SIGPIPE, SIG_IGN);
    static fd_pair_t std_fds = {0, 1};
    static app_io_t std_io = {&std_fds, fd_read, fd_write};
    int rc = app_init(&app, &std_io, "host", cores, APP_COUNTER_NS);
    if (rc != 0) {
        fprintf(stderr, "rnnse_app: network initialisation failed: %s\n", app_net_strerror(rc));
        return 3;
    }
    app.frame_timeout_ms = frame_timeout;
    if (use_stdio) {
        app_serve(&app);
        return 0;
    }
    const tcp_opts_t tcp = {port, once, idle_s > 0 ? idle_s * 1000 : -1};
    return serve_tcp(&tcp);
}
