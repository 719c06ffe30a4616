/*
 * Raw machine baselines for tools/bench/compare, printed as one JSON object per mode:
 *
 *   diskbase seqwrite DIR MIB        buffered 1 MiB write()s of MIB MiB, one fdatasync at the end
 *   diskbase fsynclat DIR COUNT      COUNT appends of 100 bytes, fdatasync after each: p50/p99/max µs
 *   diskbase memcpy MIB ROUNDS       memcpy between two MIB MiB buffers, best and median GB/s
 *
 * Files are created in DIR and removed before exit. MB and GB are powers of ten.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path) {
    fprintf(stderr, "diskbase: %s %s: %s\n", what, path, strerror(errno));
    exit(2);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p) {
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static int seqwrite(const char *dir, long mib) {
    char path[4096];
    snprintf(path, sizeof path, "%s/diskbase-seqwrite.%d", dir, (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0) die("open", path);
    size_t chunk = 1 << 20;
    char *buf = aligned_alloc(4096, chunk);
    for (size_t i = 0; i < chunk; i++) buf[i] = (char)(i * 131 + 7);
    double t0 = now_s();
    for (long i = 0; i < mib; i++) {
        if (write(fd, buf, chunk) != (ssize_t)chunk) die("write", path);
    }
    double t1 = now_s();
    if (fdatasync(fd) != 0) die("fdatasync", path);
    double t2 = now_s();
    close(fd);
    unlink(path);
    double bytes = (double)mib * (double)chunk;
    printf("{\"mode\":\"seqwrite\",\"bytes\":%.0f,\"seconds\":%.6f,\"MBps\":%.1f,\"write_seconds\":%.6f,"
           "\"fdatasync_seconds\":%.6f}\n", bytes, t2 - t0, bytes / (t2 - t0) / 1e6, t1 - t0, t2 - t1);
    free(buf);
    return 0;
}

static int fsynclat(const char *dir, long count) {
    char path[4096];
    snprintf(path, sizeof path, "%s/diskbase-fsync.%d", dir, (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0600);
    if (fd < 0) die("open", path);
    char rec[100];
    memset(rec, 'x', sizeof rec);
    double *lat = malloc(sizeof(double) * (size_t)count);
    double t0 = now_s();
    for (long i = 0; i < count; i++) {
        double a = now_s();
        if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec) die("write", path);
        if (fdatasync(fd) != 0) die("fdatasync", path);
        lat[i] = (now_s() - a) * 1e6;
    }
    double total = now_s() - t0;
    close(fd);
    unlink(path);
    qsort(lat, (size_t)count, sizeof(double), cmp_double);
    printf("{\"mode\":\"fsynclat\",\"count\":%ld,\"per_second\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"max_us\":%.1f}\n", count, (double)count / total, pct(lat, (size_t)count, 0.50),
           pct(lat, (size_t)count, 0.99), lat[count - 1]);
    free(lat);
    return 0;
}

static int memcpy_bench(long mib, int rounds) {
    size_t n = (size_t)mib << 20;
    char *src = aligned_alloc(4096, n), *dst = aligned_alloc(4096, n);
    memset(src, 1, n);
    memset(dst, 2, n);
    double *gbps = malloc(sizeof(double) * (size_t)rounds);
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        memcpy(dst, src, n);
        double t = now_s() - t0;
        gbps[r] = (double)n / t / 1e9;
        src[r % n] ^= dst[(r * 4099) % n]; /* keep the copy observable */
    }
    qsort(gbps, (size_t)rounds, sizeof(double), cmp_double);
    printf("{\"mode\":\"memcpy\",\"bytes\":%zu,\"rounds\":%d,\"GBps_median\":%.2f,\"GBps_best\":%.2f}\n",
           n, rounds, gbps[rounds / 2], gbps[rounds - 1]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "seqwrite") == 0) return seqwrite(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "fsynclat") == 0) return fsynclat(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "memcpy") == 0) return memcpy_bench(atol(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: diskbase seqwrite DIR MIB | fsynclat DIR COUNT | memcpy MIB ROUNDS\n");
    return 2;
}
