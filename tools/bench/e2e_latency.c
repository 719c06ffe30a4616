/*
 * End-to-end latency at a fixed rate through a Kafka broker, one process, one partition:
 * a producer paced by absolute-time sleeps (not bursts, no spinning) sends RATE messages per second of
 * SIZE bytes, each carrying its CLOCK_MONOTONIC send time; a simple consumer (no group), started right
 * after the topic-creating first message, reads them back. Prints one JSON object with produce→consume
 * and produce→ack percentiles in microseconds. Messages sent during the first WARMUP_MS are not counted.
 *
 *   e2e_latency BROKERS TOPIC ACKS RATE SECONDS SIZE [WARMUP_MS]
 *
 * The producer uses linger.ms=0 (no client-side batching delay): the figure is the broker's and the
 * network path's, not librdkafka's accumulator. Delivery reports are served by a thread of their own
 * that blocks in rd_kafka_poll, so an ack is timed when it arrives; polling only after each send (as
 * before) added up to one send period to every produce→ack figure (up to 1 ms at 1 000 msg/s).
 */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

typedef struct {
    int64_t *v;
    size_t n, cap;
} samples_t;

static void add(samples_t *s, int64_t x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = realloc(s->v, s->cap * sizeof(int64_t));
    }
    s->v[s->n++] = x;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_us(samples_t *s, double p) {
    if (s->n == 0) return -1;
    size_t i = (size_t)(p * (double)(s->n - 1) + 0.5);
    return (double)s->v[i] / 1000.0;
}

static int64_t measure_from_ns;     /* messages sent before this are warm-up */
static samples_t e2e, ack;
static long delivery_errors;
static int64_t first_offset = -1;   /* offset of the topic-creating message */
static atomic_int consuming = 1;
static atomic_long consumed;
static int64_t expected_total;

static int64_t payload_ts(const void *payload, size_t len) {
    int64_t ts = 0;
    if (len >= sizeof ts) memcpy(&ts, payload, sizeof ts);
    return ts;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (m->err) {
        delivery_errors++;
        return;
    }
    if (first_offset < 0) first_offset = m->offset;
    int64_t ts = payload_ts(m->payload, m->len);
    if (ts >= measure_from_ns) add(&ack, now_ns() - ts);
}

static void on_message(rd_kafka_message_t *m, void *opaque) {
    (void)opaque;
    if (m->err) return;
    int64_t ts = payload_ts(m->payload, m->len);
    if (ts >= measure_from_ns) add(&e2e, now_ns() - ts);
    atomic_fetch_add(&consumed, 1);
}

typedef struct {
    rd_kafka_topic_t *rkt;
} consumer_arg_t;

static atomic_int polling = 1;

/* Serves the producer's delivery reports as they arrive (rd_kafka_poll wakes on a new event). */
static void *poll_loop(void *p) {
    rd_kafka_t *producer = p;
    while (atomic_load(&polling)) rd_kafka_poll(producer, 10);
    return NULL;
}

static void *consume_loop(void *p) {
    consumer_arg_t *arg = p;
    while (atomic_load(&consuming)) rd_kafka_consume_callback(arg->rkt, 0, 100, on_message, NULL);
    return NULL;
}

static rd_kafka_t *make(rd_kafka_type_t type, const char *brokers, const char **kv) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) != RD_KAFKA_CONF_OK) goto bad;
    for (; kv && kv[0]; kv += 2)
        if (rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof err) != RD_KAFKA_CONF_OK) goto bad;
    if (type == RD_KAFKA_PRODUCER) rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) goto bad;
    return rk;
bad:
    fprintf(stderr, "e2e_latency: %s\n", err);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: e2e_latency BROKERS TOPIC ACKS RATE SECONDS SIZE [WARMUP_MS]\n");
        return 2;
    }
    const char *brokers = argv[1], *topic = argv[2], *acks = argv[3];
    double rate = atof(argv[4]), seconds = atof(argv[5]);
    size_t size = (size_t)atol(argv[6]);
    int64_t warmup_ns = (argc > 7 ? atol(argv[7]) : 500) * 1000000LL;
    if (size < 8) size = 8;

    const char *pkv[] = {"acks", acks, "linger.ms", "0", "enable.idempotence", "false", NULL};
    rd_kafka_t *prod = make(RD_KAFKA_PRODUCER, brokers, pkv);
    rd_kafka_topic_t *prkt = rd_kafka_topic_new(prod, topic, NULL);
    char *buf = calloc(1, size);
    memset(buf, 'L', size);

    /* One message creates the topic and tells where the measured ones start. */
    measure_from_ns = INT64_MAX;
    int64_t t = now_ns();
    memcpy(buf, &t, sizeof t);
    if (rd_kafka_produce(prkt, 0, RD_KAFKA_MSG_F_COPY, buf, size, NULL, 0, NULL) != 0) {
        fprintf(stderr, "e2e_latency: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
        return 2;
    }
    rd_kafka_flush(prod, 10000);
    if (delivery_errors || first_offset < 0) {
        fprintf(stderr, "e2e_latency: first message not delivered\n");
        return 2;
    }

    const char *ckv[] = {"fetch.wait.max.ms", "100", "fetch.min.bytes", "1", "fetch.error.backoff.ms", "10",
                         "enable.partition.eof", "false", NULL};
    rd_kafka_t *cons = make(RD_KAFKA_CONSUMER, brokers, ckv);
    rd_kafka_topic_t *crkt = rd_kafka_topic_new(cons, topic, NULL);
    if (rd_kafka_consume_start(crkt, 0, first_offset + 1) != 0) {
        fprintf(stderr, "e2e_latency: consume_start: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
        return 2;
    }
    consumer_arg_t carg = {crkt};
    pthread_t thr;
    pthread_create(&thr, NULL, consume_loop, &carg);
    struct timespec settle = {0, 300 * 1000000L};   /* let the consumer connect and park a fetch */
    nanosleep(&settle, NULL);

    pthread_t poller;
    pthread_create(&poller, NULL, poll_loop, prod);

    int64_t start = now_ns(), period = (int64_t)(1e9 / rate), total = (int64_t)(rate * seconds);
    measure_from_ns = start + warmup_ns;
    expected_total = total;
    struct timespec next;
    for (int64_t i = 0; i < total; i++) {
        int64_t due = start + i * period;
        next.tv_sec = due / 1000000000LL;
        next.tv_nsec = due % 1000000000LL;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        int64_t ts = now_ns();
        memcpy(buf, &ts, sizeof ts);
        while (rd_kafka_produce(prkt, 0, RD_KAFKA_MSG_F_COPY, buf, size, NULL, 0, NULL) != 0) {
            struct timespec ms = {0, 1000000L};   /* queue full: the poller drains it */
            nanosleep(&ms, NULL);
        }
    }
    double send_seconds = (double)(now_ns() - start) / 1e9;
    int64_t flush_until = now_ns() + 15000000000LL;
    while (rd_kafka_outq_len(prod) > 0 && now_ns() < flush_until) {
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    atomic_store(&polling, 0);
    pthread_join(poller, NULL);
    rd_kafka_flush(prod, 1000);
    int64_t wait_until = now_ns() + 5000000000LL;
    while (atomic_load(&consumed) < total && now_ns() < wait_until) {
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    atomic_store(&consuming, 0);
    pthread_join(thr, NULL);
    rd_kafka_consume_stop(crkt, 0);

    qsort(e2e.v, e2e.n, sizeof(int64_t), cmp64);
    qsort(ack.v, ack.n, sizeof(int64_t), cmp64);
    int complete = atomic_load(&consumed) >= total && delivery_errors == 0 && rd_kafka_outq_len(prod) == 0;
    printf("{\"acks\":\"%s\",\"complete\":%s,\"rate\":%.0f,\"sent\":%lld,\"achieved_rate\":%.0f,\"consumed\":%ld,"
           "\"measured\":%zu,\"delivery_errors\":%ld,"
           "\"e2e_p50_us\":%.1f,\"e2e_p99_us\":%.1f,\"e2e_p999_us\":%.1f,\"e2e_max_us\":%.1f,"
           "\"ack_p50_us\":%.1f,\"ack_p99_us\":%.1f}\n",
           acks, complete ? "true" : "false", rate, (long long)total, (double)total / send_seconds,
           atomic_load(&consumed), e2e.n,
           delivery_errors, pct_us(&e2e, 0.5), pct_us(&e2e, 0.99), pct_us(&e2e, 0.999),
           e2e.n ? (double)e2e.v[e2e.n - 1] / 1000.0 : -1, pct_us(&ack, 0.5), pct_us(&ack, 0.99));
    rd_kafka_topic_destroy(crkt);
    rd_kafka_destroy(cons);
    rd_kafka_topic_destroy(prkt);
    rd_kafka_destroy(prod);
    return 0;   /* an incomplete run is still a result: "complete": false says so */
}
