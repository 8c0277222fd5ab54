#include <string.h>

#include "dsp.h"

void dsp_chain_reset(dsp_chain_t *c)
{
    dsp_tables_init();
    memset(c, 0, sizeof(*c));
}
