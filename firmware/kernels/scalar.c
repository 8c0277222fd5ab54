/* Out-of-line parts of the integer primitives (rnnse_scalar.h): requant with shifts of 32 and
 * less, and the gate sum when one of its shifts is such. */
#include "rnnse_scalar.h"

int32_t rnnse_requant_le32(int32_t acc, int32_t mult, int shift)
{
    uint32_t lo = (uint32_t)acc * (uint32_t)mult, l2;
    int32_t hi = rnnse_fx_mulh(acc, mult), h2, top;
    if (shift == 32) return hi + (int32_t)(lo >> 31);
    l2 = lo + (1u << (shift - 1));
    h2 = hi + (l2 < lo);
    top = h2 >> (shift - 1);
    if (top != 0 && top != -1) return h2 < 0 ? INT32_MIN : INT32_MAX;
    return (int32_t)((l2 >> shift) | ((uint32_t)h2 << (32 - shift)));
}

int32_t rnnse_requant2_sat16(int32_t a, int32_t ma, int sa, int32_t b, int32_t mb, int sb)
{
    return rnnse_add_sat(rnnse_requant(a, ma, sa), rnnse_requant(b, mb, sb), -32768, 32767);
}
