#!/usr/bin/env python3
"""Consumer-group scenarios against a Kafka-compatible broker (used by Strata's group interop tests).

Each scenario prints one JSON line; exit status 0 = every check passed, 1 = a check failed (the
"error" says which). Every wait is a poll loop with a deadline: nothing sleeps for a condition.

usage: groups.py SCENARIO BOOTSTRAP TOPIC GROUP [COUNT]
scenarios:
  confluent-pair  two confluent-kafka consumers split a 4-partition topic, one closes and the other
                  takes all 4, then a consumer restarted in the group resumes exactly after the commit
  kafka-python    a group of two kafka-python consumers (default settings) consumes everything
  aiokafka        a group of two aiokafka consumers (default settings) consumes everything
  mixed           one confluent-kafka and one kafka-python member share the topic
  evict           a member killed with SIGKILL is evicted after its session timeout; the other takes over
  static          a static member (group.instance.id) restarts and gets its partitions back, no rebalance
  burst           four members started together against the default initial delay: one rebalance
  commit          produce COUNT records, consume the whole topic in GROUP, commit, print the offsets
  committed       print GROUP's committed offsets for the topic's 4 partitions
  partner         a confluent-kafka member (default assignors range,roundrobin) for a mixed group with
                  another client (StrataClient): prints "joined" once it has an assignment, then, once
                  it owns exactly 2 partitions, reads COUNT/2 records from them, commits, prints what
                  it read and leaves (the topic: 4 partitions, records produced by the other side)
  partner-kafka-python  the same with a kafka-python member (its default assignors)
"""
import asyncio
import json
import logging
import os
import sys
import time

# GROUPS_PY_DEBUG=1 turns on the Python clients' own debug logging (to stderr), e.g. to see which
# request of kafka-python times out.
if os.environ.get("GROUPS_PY_DEBUG"):
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format="%(asctime)s.%(msecs)03d %(threadName)s %(name)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")

PARTITIONS = 4
# Generous: a member that misses an answer under load recovers through its own request timeout
# (30 s in kafka-python) and rejoins; the wait is still bounded.
DEADLINE_SECONDS = 100


def fail(message, **extra):
    print(json.dumps({"ok": False, "error": message, **extra}))
    sys.exit(1)


def deadline_passed(start, what):
    if time.time() - start > DEADLINE_SECONDS:
        fail(f"timed out after {DEADLINE_SECONDS} s waiting for {what}")


def create_topic(bootstrap, topic):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    for future in futures.values():
        try:
            future.result(timeout=30)
        except Exception as error:  # noqa: BLE001 - an existing topic is fine
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise


def produce(bootstrap, topic, count, start=0):
    """Produces records k{i}/v{i} round-robin over the partitions; returns {(partition, offset): i}."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    written = {}

    def on_delivery(error, message):
        if error is not None:
            fail(f"delivery failed: {error}")
        written[(message.partition(), message.offset())] = int(message.key()[1:])

    for index in range(start, start + count):
        producer.produce(topic, key=f"k{index}", value=f"v{index}", partition=index % PARTITIONS,
                         on_delivery=on_delivery)
    producer.flush(30)
    if len(written) != count:
        fail(f"only {len(written)} of {count} records delivered")
    return written


def confluent_consumer(bootstrap, group, **overrides):
    from confluent_kafka import Consumer

    settings = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                "enable.auto.commit": False, "heartbeat.interval.ms": 500}
    settings.update(overrides)
    return Consumer(settings)


def next_message(consumer, timeout, who):
    """One confluent-kafka poll: the message, or None; a consumer error fails the scenario."""
    message = consumer.poll(timeout)
    if message is not None and message.error():
        fail(f"{who}: {message.error()}")
    return message


def check_split(assignments):
    """assignments: list of sets of partitions; True when disjoint and covering every partition."""
    union = set().union(*assignments)
    return union == set(range(PARTITIONS)) and sum(len(a) for a in assignments) == PARTITIONS \
        and all(assignments)


def confluent_pair(bootstrap, topic, group, count):
    create_topic(bootstrap, topic)
    written = produce(bootstrap, topic, count)
    consumers = [confluent_consumer(bootstrap, group, **{"client.id": f"member-{n}"}) for n in range(2)]
    for consumer in consumers:
        consumer.subscribe([topic])
    seen = [dict(), dict()]  # per consumer: (partition, offset) -> index

    def poll(which, timeout=0.1):
        message = next_message(consumers[which], timeout, f"consumer {which}")
        if message is not None:
            seen[which][(message.partition(), message.offset())] = int(message.key()[1:])

    def assignment(which):
        return {tp.partition for tp in consumers[which].assignment()}

    start = time.time()
    while not check_split([assignment(0), assignment(1)]):
        deadline_passed(start, f"a split assignment, have {assignment(0)} / {assignment(1)}")
        poll(0)
        poll(1)
    split = [sorted(assignment(0)), sorted(assignment(1))]
    # DescribeGroups (confluent admin) shows both members with their client id and host.
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the result is in
    described = admin.describe_consumer_groups([group])[group].result(30)
    members = sorted((m.client_id, m.host) for m in described.members)
    if [c for c, _ in members] != ["member-0", "member-1"] or any(h != "/127.0.0.1" for _, h in members):
        fail(f"describe_consumer_groups members {members}: expected member-0/1 on /127.0.0.1")
    while len(seen[0]) + len(seen[1]) < count:
        deadline_passed(start, f"all records, have {len(seen[0])} + {len(seen[1])}")
        poll(0)
        poll(1)
    for which in range(2):
        owned = {p for p, _ in seen[which]}
        if not owned <= set(split[which]):
            fail(f"consumer {which} got records of partitions {owned} outside its assignment {split[which]}")
    if set(seen[0]) & set(seen[1]):
        fail("a record was delivered to both members")
    if {**seen[0], **seen[1]} != written:
        fail("consumed records differ from the produced ones")
    for consumer in consumers:
        consumer.commit(asynchronous=False)
    # Member 1 leaves: member 0 must get all partitions.
    consumers[1].close()
    while assignment(0) != set(range(PARTITIONS)):
        deadline_passed(start, f"member 0 to take over, has {assignment(0)}")
        poll(0)
    # More records; member 0 reads half of them, commits exactly those, and closes.
    more = produce(bootstrap, topic, count, start=count)
    half = count // 2
    before = len(seen[0])
    while len(seen[0]) - before < half:
        deadline_passed(start, "member 0 to read half of the new records")
        poll(0, 0.5)
    consumed_before_commit = set(seen[0]) | set(seen[1])
    consumers[0].commit(asynchronous=False)
    consumers[0].close()
    # A restarted consumer in the group resumes exactly after the commit: no gap, no re-delivery.
    restarted = confluent_consumer(bootstrap, group)
    restarted.subscribe([topic])
    resumed = {}
    expected = {key: value for key, value in more.items() if key not in consumed_before_commit}
    while len(resumed) < len(expected):
        deadline_passed(start, f"the restarted consumer, has {len(resumed)} of {len(expected)}")
        message = next_message(restarted, 0.2, "restarted consumer")
        if message is not None:
            resumed[(message.partition(), message.offset())] = int(message.key()[1:])
    extra_deadline = time.time() + 1.0
    while time.time() < extra_deadline:  # a bounded look for re-delivered extras
        message = restarted.poll(0.1)
        if message is not None and not message.error():
            resumed[(message.partition(), message.offset())] = int(message.key()[1:])
    restarted.close()
    if resumed != expected:
        redelivered = sorted(set(resumed) & consumed_before_commit)[:5]
        fail("the restarted consumer did not resume exactly after the commit",
             got=len(resumed), expected=len(expected), redelivered=redelivered)
    print(json.dumps({"ok": True, "split": split, "resumed": len(resumed), "seconds": round(time.time() - start, 1)}))


def committed_offsets(bootstrap, topic, group):
    from confluent_kafka import TopicPartition

    consumer = confluent_consumer(bootstrap, group)
    answer = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30)
    consumer.close()
    return {str(tp.partition): tp.offset for tp in answer}


def high_watermarks(bootstrap, topic):
    from confluent_kafka import TopicPartition

    consumer = confluent_consumer(bootstrap, "strata-watermarks")
    marks = {str(p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
             for p in range(PARTITIONS)}
    consumer.close()
    return marks


def commit(bootstrap, topic, group, count):
    create_topic(bootstrap, topic)
    produce(bootstrap, topic, count)
    marks = high_watermarks(bootstrap, topic)
    consumer = confluent_consumer(bootstrap, group)
    consumer.subscribe([topic])
    positions = {}
    start = time.time()
    while any(positions.get(p, -1) + 1 < marks[p] for p in marks if marks[p] > 0):
        deadline_passed(start, f"the whole topic, at {positions} of {marks}")
        message = next_message(consumer, 0.2, "consumer")
        if message is not None:
            positions[str(message.partition())] = message.offset()
    consumer.commit(asynchronous=False)
    consumer.close()
    committed = committed_offsets(bootstrap, topic, group)
    if committed != marks:
        fail("committed offsets differ from the high watermarks", committed=committed, marks=marks)
    print(json.dumps({"ok": True, "committed": committed}))


def committed(bootstrap, topic, group):
    print(json.dumps({"ok": True, "committed": committed_offsets(bootstrap, topic, group)}))


def check_everything(seen, written, client):
    missing = set(written) - set(seen)
    if missing:
        fail(f"{client}: {len(missing)} records never consumed, e.g. {sorted(missing)[:5]}")
    wrong = [key for key in seen if seen[key] != written.get(key)]
    if wrong:
        fail(f"{client}: records differ from the produced ones at {wrong[:5]}")


class PollingThreads:
    """Runs each consumer's poll loop in its own thread (a blocking poll, e.g. kafka-python's held
    JoinGroup, must not starve the other member). `poll(consumer)` returns [(partition, offset, key)].
    `position(consumer, partition)`, if given, is the member's own next offset (None if unknown): a
    member can own a partition whose records it never receives, because an earlier owner read them
    and committed (with no initial rebalance delay, the first member may form a generation alone and
    read everything before the second one joins); its position then comes from the commit.
    Shared state is guarded by one lock; `finish(consumer)` runs in the owning thread at the end."""

    def __init__(self, consumers, poll, finish, position=None):
        import threading

        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.seen = {}
        self.deliveries = 0
        self.assigned = [set() for _ in consumers]
        self.positions = [{} for _ in consumers]  # per member: partition -> next offset
        self.errors = []

        def run(index, consumer):
            try:
                while not self.stop.is_set():
                    records = poll(consumer)
                    assignment = {tp.partition for tp in consumer.assignment()}
                    own = {p: position(consumer, p) for p in assignment} if position else {}
                    with self.lock:
                        self.assigned[index] = assignment
                        for partition, offset, key in records:
                            self.seen[(partition, offset)] = int(key[1:])
                            self.positions[index][partition] = offset + 1
                            self.deliveries += 1
                        for partition, offset in own.items():
                            if offset is not None and offset > self.positions[index].get(partition, 0):
                                self.positions[index][partition] = offset
                finish(consumer)
            except Exception as error:  # noqa: BLE001 - reported by the main thread
                with self.lock:
                    self.errors.append(f"member {index}: {error!r}")

        self.threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(consumers)]
        # GROUPS_PY_STAGGER=SECONDS starts each member that much after the previous one (reproduces the
        # first member forming a generation alone, reading everything, then sharing with the next).
        stagger = float(os.environ.get("GROUPS_PY_STAGGER", "0"))
        for number, thread in enumerate(self.threads):
            if number and stagger:
                time.sleep(stagger)
            thread.start()

    def wait_until(self, what, condition):
        """Polls `condition(state)` under the lock until it holds (bounded by DEADLINE_SECONDS)."""
        start = time.time()
        while True:
            with self.lock:
                if self.errors:
                    fail("; ".join(self.errors))
                if condition(self):
                    return
                state = f"assignments {self.assigned}, {len(self.seen)} records"
            deadline_passed(start, f"{what} ({state})")
            self.stop.wait(0.05)

    def caught_up(self, marks):
        """Split assignment, and every member has read its partitions to the end."""
        return check_split(self.assigned) and all(
            self.positions[i].get(p, 0) >= marks[p] for i, owned in enumerate(self.assigned) for p in owned)

    def close(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        if self.errors:
            fail("; ".join(self.errors))


def end_offsets(written):
    marks = {p: 0 for p in range(PARTITIONS)}
    for partition, offset in written:
        marks[partition] = max(marks[partition], offset + 1)
    return marks


def kafka_python_poll(consumer):
    return [(tp.partition, r.offset, r.key) for tp, records in consumer.poll(timeout_ms=100).items()
            for r in records]


def kafka_python_position(consumer, partition):
    """The member's next offset in `partition` of its (only) topic, None while unknown."""
    from kafka import TopicPartition

    (topic,) = consumer.subscription()
    try:
        return consumer.position(TopicPartition(topic, partition), timeout_ms=0)
    except Exception:  # noqa: BLE001 - e.g. revoked meanwhile: unknown for now
        return None


def kafka_python(bootstrap, topic, group, count):
    from kafka import KafkaAdminClient, KafkaConsumer

    create_topic(bootstrap, topic)
    written = produce(bootstrap, topic, count)
    marks = end_offsets(written)
    start = time.time()
    consumers = [KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                               client_id=f"kp-{n}") for n in range(2)]
    # Works around a kafka-python 3.0.12 bug: a leader that joins before it has its topic's metadata
    # assigns nothing, rejoins once the metadata arrives (not through rejoin_needed, through its
    # assignment snapshot) and, when that JoinGroup is held longer than one poll(timeout_ms=100),
    # makes need_rejoin() false itself when it computes the next assignment; no later poll then
    # completes the join (the SyncGroup answer is received but never applied), so it never heartbeats
    # and the broker evicts it after its session timeout (30 s) without it ever rejoining. Knowing
    # the topic's partitions before the first poll keeps the leader off that path.
    for consumer in consumers:
        if len(consumer.partitions_for_topic(topic)) != PARTITIONS:
            fail(f"kafka-python sees {consumer.partitions_for_topic(topic)} as the partitions of {topic}")
    threads = PollingThreads(consumers, kafka_python_poll, lambda consumer: (consumer.commit(), consumer.close()),
                             position=kafka_python_position)
    threads.wait_until("a split assignment with every partition read", lambda t: t.caught_up(marks))
    split = [sorted(a) for a in threads.assigned]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    groups = [entry["group_id"] for entry in admin.list_groups()]
    if group not in groups:
        fail(f"list_groups lacks {group}: {groups}")
    described = admin.describe_groups([group])[group]
    if described["group_state"] != "Stable" or len(described["members"]) != 2:
        fail(f"describe_groups: {described}")
    threads.close()
    check_everything(threads.seen, written, "kafka-python")
    offsets = {str(tp.partition): meta.offset for tp, meta in admin.list_group_offsets({group: None})[group].items()}
    admin.close()
    if offsets != {str(p): o for p, o in marks.items()}:
        fail("committed offsets differ from the end offsets", committed=offsets, marks=marks)
    print(json.dumps({"ok": True, "split": split, "records": len(threads.seen), "deliveries": threads.deliveries,
                      "seconds": round(time.time() - start, 1)}))


def aiokafka_scenario(bootstrap, topic, group, count):
    from aiokafka import AIOKafkaConsumer

    create_topic(bootstrap, topic)
    written = produce(bootstrap, topic, count)

    async def run():
        consumers = [AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                      auto_offset_reset="earliest", client_id=f"aio-{n}") for n in range(2)]
        for consumer in consumers:
            await consumer.start()
        seen = {}
        start = time.time()

        def assignments():
            return [{tp.partition for tp in consumer.assignment()} for consumer in consumers]

        while not check_split(assignments()) or len(seen) < count:
            deadline_passed(start, f"a split assignment and all records: {assignments()}, {len(seen)} records")
            for consumer in consumers:
                batches = await consumer.getmany(timeout_ms=100)
                for tp, records in batches.items():
                    for record in records:
                        seen[(tp.partition, record.offset)] = int(record.key[1:])
        split = [sorted(a) for a in assignments()]
        for consumer in consumers:
            await consumer.commit()
        for consumer in consumers:
            await consumer.stop()
        return seen, split, time.time() - start

    seen, split, seconds = asyncio.run(run())
    check_everything(seen, written, "aiokafka")
    committed = committed_offsets(bootstrap, topic, group)
    marks = high_watermarks(bootstrap, topic)
    if committed != marks:
        fail("committed offsets differ from the high watermarks", committed=committed, marks=marks)
    print(json.dumps({"ok": True, "split": split, "records": len(seen), "seconds": round(seconds, 1)}))


def mixed(bootstrap, topic, group, count):
    from kafka import KafkaConsumer

    create_topic(bootstrap, topic)
    written = produce(bootstrap, topic, count)
    marks = end_offsets(written)
    start = time.time()
    librdkafka = confluent_consumer(bootstrap, group, **{"partition.assignment.strategy": "range"})
    librdkafka.subscribe([topic])
    python = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                           enable_auto_commit=False)
    python.partitions_for_topic(topic)  # see kafka_python(): keeps a kafka-python leader off a client bug

    def poll(consumer):
        if consumer is python:
            return kafka_python_poll(consumer)
        message = consumer.poll(0.1)
        if message is None:
            return []
        if message.error():
            raise RuntimeError(str(message.error()))
        return [(message.partition(), message.offset(), message.key())]

    threads = PollingThreads([librdkafka, python], poll, lambda consumer: consumer.close())
    threads.wait_until("a split assignment with every partition read", lambda t: t.caught_up(marks))
    split = [sorted(a) for a in threads.assigned]
    threads.close()
    check_everything(threads.seen, written, "mixed")
    print(json.dumps({"ok": True, "split": split, "seconds": round(time.time() - start, 1)}))


def static(bootstrap, topic, group, count):
    """Static membership (KIP-345): a member with a group.instance.id that restarts within its session
    timeout gets its partitions back without a rebalance of the other member."""
    create_topic(bootstrap, topic)
    produce(bootstrap, topic, count)
    events = []

    def consumer(instance):
        return confluent_consumer(bootstrap, group, **{"group.instance.id": instance, "session.timeout.ms": 10000})

    stay = consumer("stay")
    stay.subscribe([topic], on_assign=lambda c, ps: events.append(("assign", sorted(p.partition for p in ps))),
                   on_revoke=lambda c, ps: events.append(("revoke", sorted(p.partition for p in ps))))
    restart = consumer("restart")
    restart.subscribe([topic])
    start = time.time()

    def assignment(member):
        return {tp.partition for tp in member.assignment()}

    while not check_split([assignment(stay), assignment(restart)]):
        deadline_passed(start, f"a split, have {assignment(stay)} / {assignment(restart)}")
        stay.poll(0.05)
        restart.poll(0.05)
    kept, before = assignment(stay), assignment(restart)
    settled = len(events)
    restart.close()
    restart = consumer("restart")
    restart.subscribe([topic])
    while assignment(restart) != before:
        deadline_passed(start, f"the restarted member to get {before} back, has {assignment(restart)}")
        stay.poll(0.05)
        restart.poll(0.05)
    for _ in range(20):  # a bounded look for a late rebalance of the member that stayed
        stay.poll(0.05)
    still, later = assignment(stay), events[settled:]
    restart.close()
    stay.close()  # (its close revokes its partitions: not a rebalance)
    if still != kept or later:
        fail(f"the member that stayed was rebalanced: {still} vs {kept}, events {later}")
    print(json.dumps({"ok": True, "kept": sorted(kept), "restarted": sorted(before)}))


def burst(bootstrap, topic, group, _count):
    """Four confluent-kafka members started together (the broker keeps its default 3 s initial
    rebalance delay): one partition each after a single delay window, reported in seconds."""
    create_topic(bootstrap, topic)
    consumers = [confluent_consumer(bootstrap, group) for _ in range(PARTITIONS)]
    start = time.time()
    for consumer in consumers:
        consumer.subscribe([topic])
    while True:
        assignments = [{tp.partition for tp in consumer.assignment()} for consumer in consumers]
        if check_split(assignments):
            break
        deadline_passed(start, f"one partition per member, have {assignments}")
        for consumer in consumers:
            next_message(consumer, 0.02, "burst member")
    seconds = time.time() - start
    for consumer in consumers:
        consumer.close()
    print(json.dumps({"ok": True, "rebalance_seconds": round(seconds, 2)}))


def member(bootstrap, topic, group, _count):
    """A group member that polls until killed (or DEADLINE_SECONDS): the victim of `evict`."""
    consumer = confluent_consumer(bootstrap, group, **{"session.timeout.ms": 6000})
    consumer.subscribe([topic])
    start = time.time()
    while time.time() - start < DEADLINE_SECONDS:
        consumer.poll(0.2)


def evict(bootstrap, topic, group, count):
    """A member killed with SIGKILL (no LeaveGroup) is evicted after its 6 s session timeout and the
    survivor gets its partitions."""
    import subprocess

    create_topic(bootstrap, topic)
    produce(bootstrap, topic, count)
    victim = subprocess.Popen([sys.executable, __file__, "member", bootstrap, topic, group],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        survivor = confluent_consumer(bootstrap, group, **{"session.timeout.ms": 6000})
        survivor.subscribe([topic])
        start = time.time()
        while len(survivor.assignment()) != PARTITIONS // 2:
            deadline_passed(start, f"a split with the victim, have {survivor.assignment()}")
            survivor.poll(0.1)
        victim.kill()
        victim.wait(timeout=30)
        killed = time.time()
        while len(survivor.assignment()) != PARTITIONS:
            deadline_passed(start, f"the survivor to take over, has {survivor.assignment()}")
            survivor.poll(0.1)
        took_over = time.time() - killed
        survivor.close()
    finally:
        if victim.poll() is None:
            victim.kill()
    if took_over < 3:
        fail(f"taken over after {took_over:.1f} s: before the victim's session could expire")
    print(json.dumps({"ok": True, "took_over_seconds": round(took_over, 1)}))


def confluent_partner(bootstrap, topic, group, owned):
    """(poll, commit, close) of a confluent-kafka member keeping `owned` up to date."""
    consumer = confluent_consumer(bootstrap, group, **{"session.timeout.ms": 6000})

    def on_assign(_consumer, partitions):
        owned.clear()
        owned.update(p.partition for p in partitions)

    consumer.subscribe([topic], on_assign=on_assign)

    def poll():
        message = next_message(consumer, 0.1, "partner")
        return [] if message is None else [(message.partition(), message.offset(), message.value())]

    return poll, lambda: consumer.commit(asynchronous=False), consumer.close


def kafka_python_partner(bootstrap, topic, group, owned):
    """(poll, commit, close) of a kafka-python member keeping `owned` up to date."""
    from kafka import ConsumerRebalanceListener, KafkaConsumer

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            owned.clear()

        def on_partitions_assigned(self, assigned):
            owned.clear()
            owned.update(tp.partition for tp in assigned)

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=500,
                             client_id="kafka-python-partner")
    consumer.subscribe([topic], listener=Listener())

    def poll():
        return [(tp.partition, r.offset, r.value) for tp, records in consumer.poll(timeout_ms=100).items()
                for r in records]

    return poll, consumer.commit, consumer.close


def partner(bootstrap, topic, group, count, make=confluent_partner):
    """One member of a mixed group whose other member drives the scenario."""
    owned = set()
    poll, commit, close = make(bootstrap, topic, group, owned)
    start = time.time()
    announced = False
    read = {}
    while len(read) < count // 2:
        deadline_passed(start, f"{count // 2} records in a 2-partition split (have {len(read)}, own {owned})")
        records = poll()
        if owned and not announced:
            print("joined", flush=True)
            announced = True
        for partition, offset, value in records:
            if len(owned) != PARTITIONS // 2:
                fail(f"read {partition}-{offset} while owning {owned}, not a 2-way split")
            key = f"{partition}-{offset}"
            if key in read:
                fail(f"read {key} twice")
            read[key] = value.decode()
    commit()
    assigned = sorted(owned)
    close()
    print(json.dumps({"ok": True, "assigned": assigned, "read": read}))


def kafka_python_partner_scenario(bootstrap, topic, group, count):
    partner(bootstrap, topic, group, count, make=kafka_python_partner)


SCENARIOS = {"partner": partner, "partner-kafka-python": kafka_python_partner_scenario, "confluent-pair": confluent_pair, "kafka-python": kafka_python, "aiokafka": aiokafka_scenario,
             "mixed": mixed, "commit": commit, "evict": evict, "member": member,
             "static": static, "burst": burst}

if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] not in list(SCENARIOS) + ["committed"]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    name, bootstrap, topic, group = sys.argv[1:5]
    if name == "committed":
        committed(bootstrap, topic, group)
    else:
        SCENARIOS[name](bootstrap, topic, group, int(sys.argv[5]) if len(sys.argv) > 5 else 400)
