/* File mode on the PMSIS target: enhance a wav file from the host's file system into another, as
 * a board user runs the firmware over JTAG with semihosting (the PMSIS host file system; GVSoC
 * serves the same calls in simulation). The fabric controller reads RNNSE_WAV_IN (16 kHz mono
 * 16-bit PCM) hop by hop, runs the signal chain and the network on the cluster as the streaming
 * application does, and writes RNNSE_WAV_OUT, aligned with the input (the chain's 300-sample
 * latency taken out: the input is followed by 300 zeros, the first 300 output samples dropped).
 * One line at the end: hops and cycles per hop. Errors: one line naming the problem, status 2
 * (the input) or 4 (the model in flash). */
#include <string.h>

#include "pmsis.h"

#include "app_net.h"
#include "dsp.h"
#include "model_flash.h"
#include "platform.h"
#include "pmsis_port.h"
#include "pulp.h"

#define RNNSE_WAV_IN "rnnse_in.wav"
#define RNNSE_WAV_OUT "rnnse_out.wav"
#define LATENCY 300                 /* samples: output n belongs to input n - 300 */

static dsp_chain_t chain;
static float mag[DSP_NBINS], mask[DSP_NBINS];
static uint8_t in_buf[2 * DSP_HOP], out_buf[2 * DSP_HOP];

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

/* four bytes equal to a chunk tag (the runtime's minimal libc declares no memcmp) */
static int tag(const uint8_t *p, const char *t) { return p[0] == t[0] && p[1] == t[1] && p[2] == t[2] && p[3] == t[3]; }

static int fail(const char *what, int status)
{
    printf("rnnse_wav: %s\n", what);
    return status;
}

/* Find the data chunk of a 16 kHz mono 16-bit PCM wav; returns its byte count or < 0 with *why. */
static long wav_open_data(int fd, const char **why)
{
    uint8_t h[12], c[8], fmt[16];
    int have_fmt = 0;
    if (pulp_host_read(fd, h, 12) != 12 || !tag(h, "RIFF") || !tag(h + 8, "WAVE")) {
        *why = RNNSE_WAV_IN " is not a RIFF/WAVE file";
        return -1;
    }
    for (;;) {
        uint32_t size;
        if (pulp_host_read(fd, c, 8) != 8) {
            *why = RNNSE_WAV_IN " has no data chunk";
            return -1;
        }
        size = le32(c + 4);
        if (tag(c, "fmt ") && size >= 16) {
            if (pulp_host_read(fd, fmt, 16) != 16) break;
            for (uint32_t k = 16; k < size + (size & 1u); k++)
                if (pulp_host_read(fd, c, 1) != 1) break;
            if (le16(fmt) != 1 || le16(fmt + 2) != 1 || le32(fmt + 4) != 16000 || le16(fmt + 14) != 16) {
                *why = RNNSE_WAV_IN " must be 16 kHz mono 16-bit PCM (rnnse enhance --resample --mono converts)";
                return -1;
            }
            have_fmt = 1;
        } else if (tag(c, "data")) {
            if (!have_fmt) break;
            return (long)size;
        } else {
            for (uint32_t k = 0; k < size + (size & 1u); k++)
                if (pulp_host_read(fd, c, 1) != 1) break;
        }
    }
    *why = RNNSE_WAV_IN " is truncated or has no fmt chunk before its data";
    return -1;
}

static int write_header(int fd, uint32_t samples)
{
    uint8_t h[44];
    memcpy(h, "RIFF", 4);
    put32(h + 4, 36u + 2u * samples);
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    put16(h + 20, 1);
    put16(h + 22, 1);
    put32(h + 24, 16000);
    put32(h + 28, 32000);
    put16(h + 32, 2);
    put16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put32(h + 40, 2u * samples);
    return pulp_host_write(fd, h, sizeof h) == (long)sizeof h ? 0 : -1;
}

static int enhance_file(void)
{
    const char *why = "the cluster could not be opened";
    int16_t in[DSP_HOP], out[DSP_HOP];
    uint64_t total = 0, worst = 0, dsp_total = 0, net_total = 0;
    uint32_t samples, hops, skip = LATENCY, written = 0;
    long data;
    int rc, fd_in, fd_out;
    if (pmsis_port_open() != 0 || (rc = model_flash_load(&why)) != 0) return fail(why, 4);
    if ((rc = app_net_init(PLAT_MAX_CORES)) != 0) return fail(app_net_strerror(rc), 4);
#if RNNSE_DSP_CLUSTER
    {   /* the signal chain runs on the cluster in the L1 the network leaves free between steps */
        size_t bytes;
        void *l1 = app_net_scratch(&bytes);
        pulp_dsp_set_scratch(l1, l1 ? bytes : 0, PLAT_MAX_CORES);
    }
#endif
    fd_in = pulp_host_open(RNNSE_WAV_IN, 0);
    if (fd_in < 0) return fail("cannot open " RNNSE_WAV_IN " on the host", 2);
    if ((data = wav_open_data(fd_in, &why)) < 0) return fail(why, 2);
    samples = (uint32_t)data / 2u;
    fd_out = pulp_host_open(RNNSE_WAV_OUT, 4);
    if (fd_out < 0 || write_header(fd_out, samples)) return fail("cannot write " RNNSE_WAV_OUT " on the host", 2);
    dsp_chain_reset(&chain);
    hops = (samples + LATENCY + DSP_HOP - 1) / DSP_HOP;
    for (uint32_t t = 0, pos = 0; t < hops; t++) {
        uint64_t t0, t1, t2, t3;
        uint32_t n = pos < samples ? (samples - pos < DSP_HOP ? samples - pos : DSP_HOP) : 0;
        if (n && pulp_host_read(fd_in, in_buf, 2 * n) != (long)(2 * n))
            return fail(RNNSE_WAV_IN " ends before its data chunk does", 2);
        for (uint32_t i = 0; i < DSP_HOP; i++) in[i] = i < n ? (int16_t)le16(in_buf + 2 * i) : 0;
        pos += n;
        t0 = plat_cycles();
        dsp_analyze(&chain, in, mag);
        t1 = plat_cycles();
        if ((rc = app_net_step(mag, mask)) != 0) return fail(app_net_strerror(rc), 3);
        t2 = plat_cycles();
        dsp_synthesize(&chain, mask, out);
        t3 = plat_cycles();
        total += t3 - t0;
        dsp_total += (t1 - t0) + (t3 - t2);
        net_total += t2 - t1;
        if (t3 - t0 > worst) worst = t3 - t0;
        for (int i = 0; i < DSP_HOP; i++) {
            if (skip) {
                skip--;
                continue;
            }
            if (written < samples) {
                put16(out_buf + 2 * (written % DSP_HOP), (uint16_t)out[i]);
                written++;
                if (written % DSP_HOP == 0 && pulp_host_write(fd_out, out_buf, 2 * DSP_HOP) != 2 * DSP_HOP)
                    return fail("cannot write " RNNSE_WAV_OUT " on the host", 2);
            }
        }
    }
    if (written % DSP_HOP && pulp_host_write(fd_out, out_buf, 2 * (written % DSP_HOP)) != (long)(2 * (written % DSP_HOP)))
        return fail("cannot write " RNNSE_WAV_OUT " on the host", 2);
    pulp_host_close(fd_out);
    pulp_host_close(fd_in);
    printf("rnnse_wav: %u samples, %u hops, cycles per hop: mean %u, max %u, dsp %u, network %u\n",
           (unsigned)samples, (unsigned)hops, (unsigned)(total / hops), (unsigned)worst, (unsigned)(dsp_total / hops),
           (unsigned)(net_total / hops));
    return 0;
}

int main(void) { return pmsis_run_main(enhance_file); }
