/*
 * Creates a topic with configs through librdkafka's admin API (CreateTopics), for benchmarks that
 * need per-topic settings before the first produce:
 *
 *   create_topic BROKERS TOPIC PARTITIONS [key=value ...]
 *
 * Exits 0 when the topic was created (or already existed), 1 otherwise, printing the broker's error.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s BROKERS TOPIC PARTITIONS [key=value ...]\n", argv[0]);
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rd_kafka_NewTopic_t *topic = rd_kafka_NewTopic_new(argv[2], atoi(argv[3]), 1, err, sizeof err);
    if (!topic) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "config %s is not key=value\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        rd_kafka_NewTopic_set_config(topic, argv[i], eq + 1);
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &topic, 1, NULL, queue);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 30000);
    int status = 1;
    if (!event) {
        fprintf(stderr, "no CreateTopics answer within 30 s\n");
    } else {
        const rd_kafka_CreateTopics_result_t *result = rd_kafka_event_CreateTopics_result(event);
        size_t count = 0;
        const rd_kafka_topic_result_t **topics = result ? rd_kafka_CreateTopics_result_topics(result, &count) : NULL;
        if (rd_kafka_event_error(event)) {
            fprintf(stderr, "%s\n", rd_kafka_event_error_string(event));
        } else if (count == 1 && (rd_kafka_topic_result_error(topics[0]) == RD_KAFKA_RESP_ERR_NO_ERROR ||
                                  rd_kafka_topic_result_error(topics[0]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)) {
            status = 0;
        } else if (count == 1) {
            fprintf(stderr, "%s: %s\n", rd_kafka_err2str(rd_kafka_topic_result_error(topics[0])),
                    rd_kafka_topic_result_error_string(topics[0]));
        }
        rd_kafka_event_destroy(event);
    }
    rd_kafka_NewTopic_destroy(topic);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
    return status;
}
