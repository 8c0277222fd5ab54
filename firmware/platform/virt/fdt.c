/* Just enough of a flattened-device-tree reader for the boot: count the /cpus/cpu@N nodes and
 * find /chosen/bootargs (QEMU -append). Format: devicetree specification, "Flattened devicetree
 * (DTB) format"; all header and token words are big-endian. */
#include <string.h>

#include "virt.h"

enum { FDT_MAGIC = 0xD00DFEEDu, FDT_BEGIN_NODE = 1, FDT_END_NODE = 2, FDT_PROP = 3, FDT_NOP = 4, FDT_END = 9 };
#define FDT_MAX_BYTES (1u << 20)

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int has_word(const char *list, size_t n, const char *word)
{
    size_t w = strlen(word), i = 0;
    while (i < n && list[i]) {
        while (i < n && list[i] == ' ')
            i++;
        size_t start = i;
        while (i < n && list[i] && list[i] != ' ')
            i++;
        if (i - start == w && !memcmp(list + start, word, w))
            return 1;
    }
    return 0;
}

int virt_fdt_scan(const void *fdt, virt_boot_t *out)
{
    const uint8_t *base = fdt;
    out->harts = 1;
    out->icount = 0;
    if (!base || be32(base) != FDT_MAGIC)
        return -1;
    uint32_t total = be32(base + 4), off = be32(base + 8), strings = be32(base + 12);
    if (total > FDT_MAX_BYTES || off >= total || strings >= total)
        return -1;
    const char *path[4] = {0};   /* names of the open nodes at depth 1 (the root, "") .. 3 */
    int depth = 0, cpus = 0;
    while (off + 4 <= total) {
        uint32_t token = be32(base + off);
        off += 4;
        if (token == FDT_BEGIN_NODE) {
            const char *name = (const char *)base + off;
            size_t len = 0;
            while (off + len < total && name[len])
                len++;
            off += ((uint32_t)len + 4u) & ~3u;
            depth++;
            if (depth < 4)
                path[depth] = name;
            if (depth == 3 && !strcmp(path[2], "cpus") && !strncmp(name, "cpu@", 4))
                cpus++;
        } else if (token == FDT_END_NODE) {
            if (--depth < 0)
                return -1;
        } else if (token == FDT_PROP) {
            if (off + 8 > total)
                return -1;
            uint32_t len = be32(base + off), name = be32(base + off + 4);
            const char *value = (const char *)base + off + 8;
            off += 8;
            if (len > total - off || strings + name >= total)
                return -1;
            if (depth == 2 && !strcmp(path[2], "chosen") && !strcmp((const char *)base + strings + name, "bootargs"))
                out->icount = has_word(value, len, "icount");
            off += (len + 3u) & ~3u;
        } else if (token == FDT_END) {
            break;
        } else if (token != FDT_NOP) {
            return -1;
        }
    }
    if (cpus > 0)
        out->harts = cpus < VIRT_HARTS ? cpus : VIRT_HARTS;
    return 0;
}
