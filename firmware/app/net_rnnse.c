/* The real network: firmware/kernels on the model linked in from an exported directory. */
#include <string.h>

#include "app_net.h"
#include "rnnse_net.h"

extern const rnnse_model_t rnnse_model;

static rnnse_net_t net;
static char phase_names[128];
static int n_phases = -1;

static const char *layer_name(const rnnse_layer_t *L)
{
    switch (L->kind) {
    case RNNSE_FC: return "fc";
    case RNNSE_LSTM: return "lstm";
    case RNNSE_GRU: return "gru";
    case RNNSE_QUANT: return "quant";
    case RNNSE_DEQUANT: return "dequant";
    default: return "?";
    }
}

static void append(const char *s)
{
    size_t n = strlen(phase_names), m = strlen(s);
    if (n + m + 2 >= sizeof(phase_names))
        return;
    if (n)
        phase_names[n++] = ',';
    memcpy(phase_names + n, s, m + 1);
}

/* phases of rnnse_net_step: [input conversion,] one per layer, output conversion */
static int count_phases(void)
{
    const rnnse_model_t *m = &rnnse_model;
    int n = 0;
    phase_names[0] = 0;
    if (m->n_layers > 0 && (m->layers[0].in_type == RNNSE_FP16 || m->input_roots)) {
        append("input");
        n++;
    }
    for (uint32_t i = 0; i < m->n_layers && i < RNNSE_MAX_LAYERS; i++, n++)
        append(layer_name(&m->layers[i]));
    append("output");
    return n + 1;
}

int app_net_init(int ncores)
{
    n_phases = count_phases();
    return rnnse_net_init(&net, &rnnse_model, ncores);
}

int app_net_step(const float *mag, float *mask)
{
    return rnnse_net_step(&net, mag, mask);
}

void app_net_reset(void)
{
    rnnse_net_reset(&net);
}

void *app_net_scratch(size_t *bytes)
{
    return rnnse_net_scratch(&net, bytes);
}

const char *app_net_strerror(int code)
{
    return rnnse_strerror(code);
}

void app_net_get_info(app_net_info_t *info)
{
    info->name = rnnse_model.name ? rnnse_model.name : "unnamed";
    info->scheme = rnnse_model.scheme ? rnnse_model.scheme : "unknown";
    info->checksum = rnnse_model.checksum;
    info->format_version = rnnse_model.version;
    if (n_phases < 0)
        n_phases = count_phases();
    info->n_phases = n_phases;
    info->phases = phase_names;
}
