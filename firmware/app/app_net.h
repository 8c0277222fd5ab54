/*
 * The network as the application sees it. Two implementations:
 *   net_rnnse.c        the real network (firmware/kernels/rnnse_net.h) on the linked model;
 *   net_passthrough.c  mask = 1 everywhere, for protocol/DSP test builds made without a model.
 */
#ifndef RNNSE_APP_NET_H
#define RNNSE_APP_NET_H

#include <stddef.h>
#include <stdint.h>

typedef struct app_net_info {
    const char *name;       /* model name */
    const char *scheme;     /* quantisation scheme (fp32, fp16, int8, mixed, ...) */
    uint32_t checksum;      /* checksum of the model parameters */
    uint32_t format_version;/* version of the exported model format (0: no model) */
    int n_phases;           /* network phases (code between team barriers) per step */
    const char *phases;     /* their names, comma separated (at most 120 characters) */
} app_net_info_t;

/* 0 or a negative error code (app_net_strerror explains it) */
int app_net_init(int ncores);
int app_net_step(const float *mag, float *mask);
void app_net_reset(void);
const char *app_net_strerror(int code);
/* L1 the network leaves free between steps (its weight tiles), for the signal chain of ports that
 * run it on the cluster; NULL and *bytes = 0 when there is none. */
void *app_net_scratch(size_t *bytes);
void app_net_get_info(app_net_info_t *info);

#endif /* RNNSE_APP_NET_H */
