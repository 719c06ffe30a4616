/*
 * Reads a whole Redis stream from the start with XRANGE … COUNT n over one hiredis connection, the way
 * a consumer catching up would, and prints one JSON object: entries, value bytes, seconds, entries/s, MB/s.
 *
 *   xrange HOST PORT KEY COUNT_PER_CALL
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: xrange HOST PORT KEY COUNT_PER_CALL\n");
        return 2;
    }
    redisContext *c = redisConnect(argv[1], atoi(argv[2]));
    if (c == NULL || c->err) {
        fprintf(stderr, "xrange: connect: %s\n", c ? c->errstr : "out of memory");
        return 2;
    }
    const char *key = argv[3];
    const char *count = argv[4];
    char start[64] = "-";
    unsigned long long entries = 0, bytes = 0, calls = 0;
    double t0 = now_s();
    for (;;) {
        redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT %s", key, start, count);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "xrange: %s\n", r ? r->str : c->errstr);
            return 2;
        }
        calls++;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            freeReplyObject(r);
            break;
        }
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *entry = r->element[i];          /* [id, [field, value, ...]] */
            redisReply *fields = entry->element[1];
            for (size_t f = 1; f < fields->elements; f += 2) bytes += fields->element[f]->len;
            entries++;
        }
        redisReply *last = r->element[r->elements - 1]->element[0];
        snprintf(start, sizeof start, "(%s", last->str);  /* exclusive start, Redis ≥ 6.2 */
        freeReplyObject(r);
    }
    double t = now_s() - t0;
    printf("{\"entries\":%llu,\"bytes\":%llu,\"calls\":%llu,\"seconds\":%.6f,\"msgps\":%.0f,\"MBps\":%.2f}\n",
           entries, bytes, calls, t, (double)entries / t, (double)bytes / t / 1e6);
    redisFree(c);
    return 0;
}
