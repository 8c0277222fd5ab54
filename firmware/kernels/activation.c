/* FP32 activations of the FP16 layers (the INT8 ones use the exported tables, rnnse_kernels.h). */
#include <math.h>

#include "rnnse_kernels.h"

float rnnse_sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }
