/* The batch program on the PMSIS target: the pulp port's (firmware/targets/pulp/batch_pulp.c,
 * its main compiled as rnnse_batch_main), run after this target's boot: the cluster opened and
 * the model read from the flash. Its job and results go through files on the host (the PMSIS host
 * file system); a boot failure is printed in one line and ends the program with status 4. */
#include "pmsis.h"

#include "model_flash.h"
#include "pmsis_port.h"

int rnnse_batch_main(void);

static int batch(void)
{
    const char *why = "the cluster could not be opened";
    int rc = pmsis_port_open() == 0 ? model_flash_load(&why) : -1;
    if (rc != 0) {
        printf("rnnse_batch: %s\n", why);
        return 4;
    }
    rc = rnnse_batch_main();
    printf("stack peak FC: %u bytes\n", (unsigned)pmsis_fc_stack_peak());
    return rc;
}

int main(void) { return pmsis_run_main(batch); }
