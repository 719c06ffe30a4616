#!/usr/bin/env python3
"""Python clients as peers of StrataClient in interop tests (ClientInteropTests).

  peer.py placement BOOTSTRAP TOPIC KEY...   kafka-python produces one record per key (default
                                             partitioner); prints {"key": partition, ...}
  peer.py consume BOOTSTRAP TOPIC COUNT      confluent-kafka reads COUNT records from the start of
                                             every partition; prints a JSON list of records
  peer.py produce BOOTSTRAP TOPIC COUNT      confluent-kafka produces COUNT keyed records (LZ4,
                                             acks=all, a header each); prints {"ok": true}
Exit status 1 with a message on stderr when something is wrong.
"""

import json
import sys
import time

DEADLINE_SECONDS = 60


def placement(bootstrap, topic, keys):
    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    futures = {key: producer.send(topic, key=key.encode(), value=b"placed") for key in keys}
    producer.flush(30)
    print(json.dumps({key: future.get(timeout=30).partition for key, future in futures.items()}))
    producer.close()


def consume(bootstrap, topic, count):
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "peer-reader", "enable.auto.commit": False})
    metadata = consumer.list_topics(topic, timeout=30)
    partitions = sorted(metadata.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    records = []
    deadline = time.time() + DEADLINE_SECONDS
    while len(records) < count and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            sys.exit(f"consume error: {message.error()}")
        records.append({"partition": message.partition(), "offset": message.offset(),
                        "key": message.key().decode() if message.key() is not None else None,
                        "value": message.value().decode() if message.value() is not None else None,
                        "headers": [[k, v.decode() if v is not None else None] for k, v in (message.headers() or [])]})
    consumer.close()
    print(json.dumps(records))


def produce(bootstrap, topic, count):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": "lz4",
                         "linger.ms": 5, "partitioner": "murmur2_random"})
    failures = []

    def on_delivery(error, message):
        if error is not None:
            failures.append(str(error))
    for i in range(count):
        producer.produce(topic, key=f"key-{i % 10}", value=f"value-{i}", headers=[("seq", str(i))],
                         on_delivery=on_delivery)
        producer.poll(0)
    if producer.flush(30) != 0 or failures:
        sys.exit(f"produce failed: {failures[:3]}")
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    command, bootstrap, topic, *rest = sys.argv[1:]
    if command == "placement":
        placement(bootstrap, topic, rest)
    elif command == "consume":
        consume(bootstrap, topic, int(rest[0]))
    elif command == "produce":
        produce(bootstrap, topic, int(rest[0]))
    else:
        sys.exit(f"unknown command {command}")
