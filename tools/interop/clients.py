#!/usr/bin/env python3
"""Drive a Kafka-compatible broker with real Python clients (used by Strata's interop tests).

Each scenario creates its topic through the client's admin API, produces N keyed records with a
header (LZ4, acks=all), consumes them back from the beginning by partition assignment, checks
every record (offsets contiguous per partition, keys, values, headers), and prints one JSON line
with what it saw. Exit status 0 = all checks passed, 1 = a check failed (the message says which).

usage: clients.py SCENARIO BOOTSTRAP TOPIC [COUNT]
scenarios: confluent, kafka-python, aiokafka, compaction
"""
import asyncio
import json
import sys
import time

DEADLINE_SECONDS = 60


def fail(message):
    print(json.dumps({"ok": False, "error": message}))
    sys.exit(1)


def check(received, count, partitions):
    """received: list of (partition, offset, key, value, headers)."""
    if len(received) != count:
        fail(f"expected {count} records, got {len(received)}")
    by_partition = {}
    for partition, offset, key, value, headers in received:
        by_partition.setdefault(partition, []).append(offset)
        index = int(key[1:])
        if value != f"v{index}".encode() or key != f"k{index}".encode():
            fail(f"record {partition}/{offset}: key {key!r} value {value!r} do not match")
        if [(k, bytes(v)) for k, v in headers] != [("h", f"x{index}".encode())]:
            fail(f"record {partition}/{offset}: headers {headers!r}")
    for partition, offsets in by_partition.items():
        if offsets != list(range(len(offsets))):
            fail(f"partition {partition}: offsets not contiguous from 0: {offsets[:10]}...")
    if set(by_partition) - set(range(partitions)):
        fail(f"unexpected partitions {sorted(by_partition)}")
    return {p: len(o) for p, o in sorted(by_partition.items())}


def confluent(bootstrap, topic, count):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)]).values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap, "compression.type": "lz4", "linger.ms": 5,
                         "acks": "all", "enable.idempotence": True})
    delivered = []

    def on_delivery(error, message):
        if error is not None:
            fail(f"delivery failed: {error}")
        delivered.append((message.partition(), message.offset()))

    start_ms = int(time.time() * 1000)
    for index in range(count):
        producer.produce(topic, key=f"k{index}", value=f"v{index}", headers=[("h", f"x{index}".encode())],
                         timestamp=start_ms + index, on_delivery=on_delivery)
    producer.flush(30)
    if len(delivered) != count:
        fail(f"only {len(delivered)} of {count} delivered")

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "strata-interop-unused",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    received = []
    deadline = time.time() + DEADLINE_SECONDS
    while len(received) < count and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            fail(f"consume error: {message.error()}")
        received.append((message.partition(), message.offset(), message.key(), message.value(),
                         message.headers() or []))
    per_partition = check(received, count, 3)
    # ListOffsets by timestamp: the record produced at start_ms + count // 2.
    target = start_ms + count // 2
    found = consumer.offsets_for_times([TopicPartition(topic, p, target) for p in range(3)], timeout=10)
    watermarks = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(3)]
    consumer.close()
    for tp, (low, high) in zip(found, watermarks):
        if tp.error is not None or not (low <= tp.offset <= high or tp.offset == -1):
            fail(f"offsets_for_times {tp}")
    if sorted(high for _, high in watermarks) != sorted(per_partition.values()):
        fail(f"watermarks {watermarks} do not match consumed counts {per_partition}")
    # Admin: incremental config change (IncrementalAlterConfigs), seen by describe_configs.
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "86400000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    described = next(iter(admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()))
    entries = described.result(timeout=30)
    if entries["retention.ms"].value != "86400000" or entries["cleanup.policy"].value != "compact,delete":
        fail(f"incremental_alter_configs not applied: {entries['retention.ms']} {entries['cleanup.policy']}")
    # Admin: list, then delete the topic and see it gone.
    if topic not in admin.list_topics(timeout=10).topics:
        fail("list_topics does not show the topic")
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=30)
    if topic in admin.list_topics(timeout=10).topics:
        fail("topic still listed after delete_topics")
    print(json.dumps({"ok": True, "client": "confluent-kafka", "partitions": per_partition,
                      "watermarks": watermarks}))


def kafka_python(bootstrap, topic, count):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                  topic_configs={"retention.ms": "123456789"})])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="lz4", linger_ms=5)
    futures = [producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode(),
                             headers=[("h", f"x{i}".encode())]) for i in range(count)]
    producer.flush(30)
    for future in futures:
        future.get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    partitions = [TopicPartition(topic, p) for p in range(3)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    received = []
    deadline = time.time() + DEADLINE_SECONDS
    while len(received) < count and time.time() < deadline:
        for tp, records in consumer.poll(timeout_ms=500).items():
            for r in records:
                received.append((tp.partition, r.offset, r.key, r.value, r.headers))
    per_partition = check(received, count, 3)
    # Seek to the end, and to a timestamp (every record is older than "now + 1 h": no offset).
    consumer.seek_to_end(*partitions)
    ends = {tp.partition: consumer.position(tp) for tp in partitions}
    if ends != {p: n for p, n in per_partition.items()} and sorted(ends.values()) != sorted(per_partition.values()):
        fail(f"seek_to_end positions {ends} vs consumed {per_partition}")
    future_ms = int(time.time() * 1000) + 3_600_000
    times = consumer.offsets_for_times({tp: future_ms for tp in partitions})
    if any(v is not None for v in times.values()):
        fail(f"offsets_for_times(future) should be empty: {times}")
    times = consumer.offsets_for_times({tp: 0 for tp in partitions})
    if any(v is None or v.offset != 0 for v in times.values()):
        fail(f"offsets_for_times(0) should be offset 0: {times}")
    consumer.close()
    from kafka.admin import ConfigResource, ConfigResourceType
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    # kafka-python lists only non-default configs by default: the override must be there.
    if "123456789" not in str(described):
        fail(f"describe_configs lacks the retention.ms override: {described}")
    admin.delete_topics([topic])
    if topic in admin.list_topics():
        fail("topic still listed after delete_topics")
    admin.close()
    print(json.dumps({"ok": True, "client": "kafka-python", "partitions": per_partition}))


def aiokafka_scenario(bootstrap, topic, count):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="lz4",
                                    linger_ms=5)
        await producer.start()
        futures = [await producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode(),
                                       headers=[("h", f"x{i}".encode())]) for i in range(count)]
        await producer.flush()
        for future in futures:
            await future
        await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        partitions = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        received = []
        deadline = time.time() + DEADLINE_SECONDS
        while len(received) < count and time.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for r in records:
                    received.append((tp.partition, r.offset, r.key, r.value, list(r.headers)))
        await consumer.stop()
        return received

    received = asyncio.run(run())
    print(json.dumps({"ok": True, "client": "aiokafka", "partitions": check(received, count, 3)}))


def compaction(bootstrap, topic, count):
    """Keyed writes to a compacted topic; once the cleaner ran, a full read holds the latest value per
    key (and possibly newer duplicates still in the active segment), in increasing offsets."""
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    keys = 20
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, topic_configs={
        "cleanup.policy": "compact", "segment.bytes": "2048", "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "0"})])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0, batch_size=512)
    latest = {}
    for i in range(count):
        key = f"key-{i % keys}"
        latest[key] = f"value-{i}"
        producer.send(topic, key=key.encode(), value=latest[key].encode()).get(timeout=30)
    producer.close()
    tp = TopicPartition(topic, 0)
    deadline = time.time() + DEADLINE_SECONDS
    while True:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        seen = []
        while consumer.position(tp) < end and time.time() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend((r.offset, r.key.decode(), r.value.decode()) for r in records)
        consumer.close()
        if len(seen) < count // 2 or time.time() > deadline:
            break
    if len(seen) >= count // 2:
        fail(f"compaction did not happen: still {len(seen)} of {count} records")
    offsets = [o for o, _, _ in seen]
    if offsets != sorted(set(offsets)):
        fail("offsets not strictly increasing after compaction")
    final = {}
    for _, key, value in seen:
        final[key] = value
    if final != latest:
        fail(f"latest values differ after compaction: {sorted(final.items())[:3]} vs {sorted(latest.items())[:3]}")
    print(json.dumps({"ok": True, "client": "kafka-python", "records_after_compaction": len(seen),
                      "written": count}))


SCENARIOS = {"confluent": confluent, "kafka-python": kafka_python, "aiokafka": aiokafka_scenario,
             "compaction": compaction}

if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in SCENARIOS:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    SCENARIOS[sys.argv[1]](sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1000)
