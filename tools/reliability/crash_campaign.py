#!/usr/bin/env python3
"""Crash campaign: prove that nothing acknowledged is lost when `strata serve` is killed with SIGKILL.

Each cycle starts the real server on the same data directory, checks what survived the previous
kill, then runs acks=all producers (idempotent and not, several partitions, librdkafka through
confluent-kafka) and a group consumer that commits offsets, and SIGKILLs the server at a random
moment (small segments, so kills land mid-append, mid-fsync and mid-roll). After every restart:

  * every acknowledged (partition, offset, payload) is present, exactly once, at its offset;
  * offsets are contiguous from 0 and the log holds no payload that was never sent;
  * `segment-dump --verify` is clean on every partition directory;
  * committed consumer-group offsets never move backwards and never point past the log end.

Besides librdkafka, a StrataClient producer (`strata produce --print-offsets`, idempotent, acks=all)
runs for the whole campaign, across every kill, so its reconnects and resends are checked too.

Checks read the new tail each cycle and the whole log every --full-every cycles and at the end.
Exit status 0 = every check passed; 1 = a check failed (the message names partition/offset/file);
2 = the harness itself could not run. The last stdout line is a JSON summary.

usage: crash_campaign.py --strata BIN --segment-dump BIN [--cycles N] [--seed S] [--data-dir DIR]
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TOPIC = "crash"
# A compacted topic (1 partition, 64 KiB segments, 40 keys) cleaned continuously, so kills also land
# mid-cleaning: the latest acknowledged value of every key must survive (or a later one replace it).
COMPACT_TOPIC = "crash-compacted"
COMPACT_KEYS = 40
PARTITIONS = 4
GROUP = "crash-campaign"
SEGMENT_BYTES = 128 * 1024
START_TIMEOUT_SECONDS = 60
# A check fails when its reader gets no record for this long.
STALL_SECONDS = 60
# librdkafka logs every refused reconnect while the server is down; the checks report what matters.
QUIET = {"log_level": 0, "log.connection.close": False}


class CheckFailed(Exception):
    pass


class Server:
    """One `strata serve` process on a fixed loopback port."""

    def __init__(self, binary, data_dir, port, log_path, extra):
        self.binary, self.data_dir, self.port, self.log_path, self.extra = binary, data_dir, port, log_path, extra
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")
        args = [self.binary, "serve", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}",
                "--metrics", "off", "--set", f"log.segment.bytes={SEGMENT_BYTES}",
                "--set", "offsets.topic.num.partitions=4", "--set", "group.initial.rebalance.delay.ms=0",
                "--set", "log.cleaner.backoff.ms=50", "--set", "log.retention.check.interval.ms=200"]
        args += self.extra
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log)
        log.close()
        deadline = time.time() + START_TIMEOUT_SECONDS
        while time.time() < deadline:
            line = self.process.stdout.readline().decode()
            if not line:
                break
            if line.startswith("strata listening on"):
                self.port = int(line.rsplit(":", 1)[1])
                return
        self.process.kill()
        raise CheckFailed(f"server did not start; see {self.log_path}")

    def kill9(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
                return -9
        return self.process.returncode if self.process else 0

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ledger:
    """Everything sent and acknowledged, across cycles. Shared by producer threads under `lock`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = set()            # payloads handed to a producer
        self.acked = {}              # (partition, offset) -> payload
        self.acked_payloads = {}     # payload -> (partition, offset)
        self.committed = {}          # partition -> highest offset a commit succeeded with
        self.compact_acked = {}      # offset -> (key, payload) in COMPACT_TOPIC partition 0
        self.delivery_errors = 0
        self.acked_by = {}           # client name -> records it had acknowledged (other than librdkafka)
        self.transient_verify_problems = []  # PROBLEM lines gone on a second look (see segment_dump_verify)

    def on_delivery(self, error, message):
        with self.lock:
            if error is not None:
                self.delivery_errors += 1
                return
            payload = message.value().decode()
            if message.topic() == COMPACT_TOPIC:
                self.compact_acked[message.offset()] = (message.key().decode(), payload)
                return
        self.record_ack(message.partition(), message.offset(), payload)

    def record_ack(self, partition, offset, payload, client="librdkafka"):
        """One acknowledged record of TOPIC; fails on a second, different acknowledgement of a slot or payload."""
        with self.lock:
            if client != "librdkafka":
                self.acked_by[client] = self.acked_by.get(client, 0) + 1
            key = (partition, offset)
            if key in self.acked and self.acked[key] != payload:
                raise CheckFailed(f"two acks for {TOPIC}-{key[0]} offset {key[1]}: "
                                  f"{self.acked[key]!r} and {payload!r}")
            if payload in self.acked_payloads and self.acked_payloads[payload] != key:
                raise CheckFailed(f"payload {payload!r} acknowledged at {self.acked_payloads[payload]} and {key}")
            self.acked[key] = payload
            self.acked_payloads[payload] = key


def producer_loop(bootstrap, ledger, name, idempotent, rng_seed, stop, failures, compact=False):
    from confluent_kafka import Producer
    config = {**QUIET, "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2, "enable.idempotence": idempotent,
              "message.timeout.ms": 60000, "socket.timeout.ms": 10000, "reconnect.backoff.max.ms": 200,
              "compression.type": "lz4" if idempotent else "none"}
    if not idempotent:
        config["retries"] = 0  # a retry of an unacknowledged batch may legitimately duplicate it
    rng = random.Random(rng_seed)
    producer = Producer(config)
    sequence = 0
    try:
        while not stop.is_set():
            for _ in range(rng.randint(1, 50)):
                payload = f"{name}-{sequence}-" + "x" * rng.randint(0, 200)
                sequence += 1
                with ledger.lock:
                    ledger.sent.add(payload)
                try:
                    if compact:
                        producer.produce(COMPACT_TOPIC, key=f"k{rng.randrange(COMPACT_KEYS)}".encode(),
                                         value=payload.encode(), partition=0, on_delivery=ledger.on_delivery)
                    else:
                        producer.produce(TOPIC, value=payload.encode(), partition=rng.randrange(PARTITIONS),
                                         on_delivery=ledger.on_delivery)
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
            time.sleep(0.02)  # ≤ ~1 000 records/s per producer: the campaign is about kills, not volume
    except CheckFailed as error:
        failures.append(str(error))
    finally:
        try:
            # The server is dead: drop what was never acknowledged, deliver the callbacks of what was.
            producer.poll(0)
            producer.purge(in_queue=True, in_flight=True, blocking=False)
            producer.poll(0)
        except CheckFailed as error:
            failures.append(str(error))


class StrataClientProducer:
    """StrataClient in the campaign: one `strata produce --print-offsets` process (idempotent, acks=all,
    LZ4 — the client's defaults) that lives across every kill and restart. It reconnects and resends on
    its own, so the checks also prove that its retries after a crash neither lose nor duplicate an
    acknowledged record. Lines are fed only while the server is up and loaded (`feeding`), so what the
    log holds at a check was in the ledger before it."""

    def __init__(self, strata, bootstrap, ledger, seed):
        self.ledger, self.rng = ledger, random.Random(seed)
        self.feeding = threading.Event()
        self.feed_lock = threading.Lock()  # held while a burst of lines is written
        self.closed = threading.Event()
        self.stderr_tail = []
        self.process = subprocess.Popen(
            [strata, "produce", "--bootstrap", bootstrap, "--acks", "all", "--max-block-ms", "600000",
             "--print-offsets", TOPIC],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.failures = []
        self.threads = [threading.Thread(target=target, daemon=True)
                        for target in (self._feed, self._read_acks, self._read_errors)]
        for thread in self.threads:
            thread.start()

    def pause(self):
        """Stops feeding and waits for a burst being written to finish."""
        self.feeding.clear()
        with self.feed_lock:
            pass

    def _feed(self):
        sequence = 0
        while not self.closed.is_set():
            if not self.feeding.wait(0.1):
                continue
            with self.feed_lock:
                if not self.feeding.is_set():
                    continue
                lines = []
                for _ in range(self.rng.randint(1, 50)):
                    payload = f"swift-{sequence}-" + "x" * self.rng.randint(0, 200)
                    sequence += 1
                    lines.append(payload)
                with self.ledger.lock:
                    self.ledger.sent.update(lines)
                try:
                    self.process.stdin.write("".join(p + "\n" for p in lines))
                    self.process.stdin.flush()
                except (BrokenPipeError, ValueError):
                    return
            time.sleep(0.02)

    def _read_acks(self):
        for line in self.process.stdout:
            partition, offset, payload = line.rstrip("\n").split("\t", 2)
            try:
                self.ledger.record_ack(int(partition), int(offset), payload, client="StrataClient")
            except CheckFailed as error:
                self.failures.append(f"StrataClient: {error}")

    def _read_errors(self):
        for line in self.process.stderr:
            if line.startswith("FAILED\t"):
                with self.ledger.lock:
                    self.ledger.delivery_errors += 1
            else:
                self.stderr_tail = (self.stderr_tail + [line.rstrip()])[-20:]

    def check_alive(self):
        if self.failures:
            raise CheckFailed(self.failures[0])
        if self.process.poll() is not None:
            raise CheckFailed(f"strata produce exited {self.process.returncode}: {' | '.join(self.stderr_tail)}")

    def close(self):
        """Ends the input; the client flushes what it holds (the server is up) and exits 0."""
        self.pause()
        self.closed.set()
        try:
            self.process.stdin.close()
            status = self.process.wait(timeout=150)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise CheckFailed("strata produce did not finish within 150 s of its input ending")
        for thread in self.threads[1:]:
            thread.join(timeout=10)
        if self.failures:
            raise CheckFailed(self.failures[0])
        if status != 0:
            raise CheckFailed(f"strata produce exited {status}: {' | '.join(self.stderr_tail)}")

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()


def consumer_child(bootstrap):
    """`--consumer-child BOOTSTRAP` mode: consumes every partition from the group's committed offsets
    (manual assignment, so kills never wait on a rebalance), commits asynchronously, and prints
    `commit <partition> <offset>` for every commit the broker acknowledged (`error <text>` on failure).

    A process of its own, SIGKILLed at the end of its cycle, before the server restarts: a consumer
    that outlived its cycle (closing, or with librdkafka retrying a commit the kill interrupted) could
    land an older commit after a newer one on the next server, which Kafka stores as any commit
    (last write wins). That is the client moving its offset back, not the server: seed 5150 cycle 451
    failed that way with both commits, 571902 then 571881, in `__consumer_offsets` 56 ms apart."""
    from confluent_kafka import Consumer, TopicPartition

    def on_commit(error, partitions):
        if error is not None:
            return  # the kill landed mid-commit: not acknowledged
        for tp in partitions:
            if tp.error is None and tp.offset >= 0:
                print(f"commit {tp.partition} {tp.offset}", flush=True)

    consumer = Consumer({**QUIET, "bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "socket.timeout.ms": 5000,
                         "reconnect.backoff.max.ms": 200, "on_commit": on_commit})
    consumer.assign([TopicPartition(TOPIC, p) for p in range(PARTITIONS)])
    try:
        while True:
            messages = consumer.consume(num_messages=500, timeout=0.1)
            positions = {m.partition(): m.offset() + 1 for m in messages if not m.error()}
            if positions:
                consumer.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in positions.items()],
                                asynchronous=True)
    except Exception as error:  # noqa: BLE001 — reported to the harness
        print(f"error {error}", flush=True)
        sys.exit(1)


class ConsumerProcess:
    """One cycle's committing consumer (`consumer_child`) and the thread recording its acknowledged
    commits in the ledger."""

    def __init__(self, bootstrap, ledger, stop, failures):
        self.ledger, self.stop, self.failures = ledger, stop, failures
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--consumer-child", bootstrap],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            kind, _, rest = line.strip().partition(" ")
            if kind == "commit":
                partition, offset = (int(x) for x in rest.split())
                with self.ledger.lock:
                    self.ledger.committed[partition] = max(self.ledger.committed.get(partition, 0), offset)
            elif kind == "error" and not self.stop.is_set():
                self.failures.append(f"consumer: {rest}")

    def kill(self):
        """SIGKILL, then every acknowledgement it printed is in the ledger."""
        self.process.kill()
        self.process.wait()
        self.reader.join(timeout=30)


def read_partitions(bootstrap, ranges):
    """Records of partition -> [start, end) as partition -> list of (offset, payload)."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({**QUIET, "bootstrap.servers": bootstrap, "group.id": "crash-campaign-reader",
                         "enable.auto.commit": False, "fetch.max.bytes": 8 << 20})
    consumer.assign([TopicPartition(TOPIC, p, start) for p, (start, end) in ranges.items() if end > start])
    records = {p: [] for p in ranges}
    remaining = sum(max(0, end - start) for start, end in ranges.values())
    # Bounded by progress, not by total time: a full re-read of millions of records on a loaded
    # machine can take minutes (a fixed 120 s once cut a full check short at cycle 375).
    deadline = time.time() + STALL_SECONDS
    try:
        while remaining > 0 and time.time() < deadline:
            for message in consumer.consume(num_messages=min(5000, remaining), timeout=1.0):
                deadline = time.time() + STALL_SECONDS
                if message.error():
                    raise CheckFailed(f"{TOPIC}-{message.partition()}: fetch error {message.error()}")
                if message.offset() >= ranges[message.partition()][1]:
                    continue  # appended after the ends were read (the StrataClient producer resends)
                records[message.partition()].append((message.offset(), message.value().decode()))
                remaining -= 1
    finally:
        consumer.close()
    return records


def segment_dump_verify(segment_dump, directories, ledger):
    """`segment-dump --verify` of partition directories the restarted server may be appending to: the
    StrataClient producer resends what the kill left unacknowledged as soon as the server is back, so a
    check can read an index entry or batch mid-write. Problems are looked at twice, a second apart:
    what is still there is a failure (named with every PROBLEM line); what vanished is counted and
    printed (`transient_verify_problems`), never ignored silently."""
    first = subprocess.run([segment_dump, "--verify", *directories], capture_output=True, text=True)
    if first.returncode == 0:
        return
    problems = [line for line in first.stdout.splitlines() if line.startswith("PROBLEM")]
    time.sleep(1)
    again = subprocess.run([segment_dump, "--verify", *directories], capture_output=True, text=True)
    if again.returncode != 0:
        lasting = [line for line in again.stdout.splitlines() if line.startswith("PROBLEM")]
        raise CheckFailed(f"segment-dump --verify failed twice ({again.returncode}): " + "\n".join(lasting[:20])
                          + f"\n(first look: {len(problems)} problems) {(again.stdout + again.stderr)[-1000:]}")
    with ledger.lock:
        ledger.transient_verify_problems.extend(problems or [f"exit status {first.returncode}"])
    print(f"note: segment-dump --verify found {len(problems)} problem(s) that were gone a second later "
          f"(concurrent append): {problems[:4]}", flush=True)


def verify(server, ledger, verified_end, full, segment_dump):
    """Checks the log after a restart; returns the new verified end per partition."""
    from confluent_kafka import Consumer, TopicPartition
    # Snapshot first: everything acknowledged before this point must show in what is read after it.
    # (Each cycle's consumer is SIGKILLed before the restart, so no commit of it lands after this.)
    with ledger.lock:
        acked = dict(ledger.acked)
        sent = set(ledger.sent)
        commits = dict(ledger.committed)
    probe = Consumer({**QUIET, "bootstrap.servers": server.bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    try:
        ends = {}
        for partition in range(PARTITIONS):
            low, high = probe.get_watermark_offsets(TopicPartition(TOPIC, partition), timeout=30)
            if low != 0:
                raise CheckFailed(f"{TOPIC}-{partition}: log start offset {low}, expected 0")
            ends[partition] = high
        committed = probe.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=30)
    finally:
        probe.close()
    for partition in range(PARTITIONS):
        top = max((o for (p, o) in acked if p == partition), default=-1)
        if ends[partition] <= top:
            raise CheckFailed(f"{TOPIC}-{partition}: log end {ends[partition]} after restart but offset {top} "
                              "was acknowledged")
    for tp in committed:
        if tp.error is not None:
            raise CheckFailed(f"OffsetFetch {TOPIC}-{tp.partition}: {tp.error}")
        floor = commits.get(tp.partition)
        if floor is not None and tp.offset < floor:  # (no acknowledged commit yet: nothing to hold)
            raise CheckFailed(f"group {GROUP} {TOPIC}-{tp.partition}: committed offset went back from {floor} "
                              f"to {tp.offset}")
        if tp.offset > ends[tp.partition]:
            raise CheckFailed(f"group {GROUP} {TOPIC}-{tp.partition}: committed offset {tp.offset} is past the "
                              f"log end {ends[tp.partition]}")
    checked = 0
    seen_payloads = {}
    starts = {p: 0 if full else verified_end.get(p, 0) for p in range(PARTITIONS)}
    read = read_partitions(server.bootstrap, {p: (starts[p], ends[p]) for p in range(PARTITIONS)})
    for partition in range(PARTITIONS):
        start = starts[partition]
        records = read[partition]
        expected = list(range(start, ends[partition]))
        offsets = [o for o, _ in records]
        if offsets != expected:
            missing = sorted(set(expected) - set(offsets))[:5]
            raise CheckFailed(f"{TOPIC}-{partition}: offsets {start}..{ends[partition]} not contiguous; "
                              f"got {len(offsets)} records, first missing {missing}")
        for offset, payload in records:
            if payload not in sent:
                raise CheckFailed(f"{TOPIC}-{partition} offset {offset}: payload {payload[:40]!r} was never sent")
            if payload in seen_payloads:
                raise CheckFailed(f"payload {payload[:40]!r} at {TOPIC}-{partition} offset {offset} and at "
                                  f"{seen_payloads[payload]}")
            seen_payloads[payload] = (partition, offset)
            want = acked.get((partition, offset))
            if want is not None and want != payload:
                raise CheckFailed(f"{TOPIC}-{partition} offset {offset}: acknowledged {want[:40]!r}, "
                                  f"log holds {payload[:40]!r}")
            checked += 1
    if full:
        for (partition, offset), payload in acked.items():
            if seen_payloads.get(payload) != (partition, offset):
                raise CheckFailed(f"acknowledged {payload[:40]!r} at {TOPIC}-{partition} offset {offset} is "
                                  f"missing (found at {seen_payloads.get(payload)})")
    else:
        # Acknowledged payloads in the newly read tail must be there; older ones were checked before.
        for (partition, offset), payload in acked.items():
            if offset >= verified_end.get(partition, 0) and seen_payloads.get(payload) != (partition, offset):
                raise CheckFailed(f"acknowledged {payload[:40]!r} at {TOPIC}-{partition} offset {offset} is "
                                  f"missing (found at {seen_payloads.get(payload)})")
    directories = [os.path.join(server.data_dir, f"{TOPIC}-{p}") for p in range(PARTITIONS)]
    directories = [d for d in directories if os.path.isdir(d)]
    segment_dump_verify(segment_dump, directories, ledger)
    return ends, checked


def verify_compacted(server, ledger, segment_dump):
    """The compacted topic: offsets increase, payloads were sent and appear once, and for every key
    its latest acknowledged record is present at its offset unless a later record of the key is."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({**QUIET, "bootstrap.servers": server.bootstrap, "group.id": "crash-campaign-reader",
                         "enable.auto.commit": False, "fetch.max.bytes": 8 << 20})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(COMPACT_TOPIC, 0), timeout=30)
        consumer.assign([TopicPartition(COMPACT_TOPIC, 0, low)])
        records = []
        deadline = time.time() + STALL_SECONDS
        while high > low and (not records or records[-1][0] < high - 1) and time.time() < deadline:
            for message in consumer.consume(num_messages=5000, timeout=1.0):
                deadline = time.time() + STALL_SECONDS
                if message.error():
                    raise CheckFailed(f"{COMPACT_TOPIC}-0: fetch error {message.error()}")
                records.append((message.offset(), message.key().decode(), message.value().decode()))
    finally:
        consumer.close()
    with ledger.lock:
        acked = dict(ledger.compact_acked)
        sent = set(ledger.sent)
    if high > low and (not records or records[-1][0] != high - 1):
        raise CheckFailed(f"{COMPACT_TOPIC}-0: read up to {records[-1][0] if records else None}, log end {high}")
    offsets = [o for o, _, _ in records]
    if offsets != sorted(set(offsets)):
        raise CheckFailed(f"{COMPACT_TOPIC}-0: offsets not strictly increasing")
    by_offset = {o: (k, v) for o, k, v in records}
    latest_present = {}
    for offset, key, payload in records:
        if payload not in sent:
            raise CheckFailed(f"{COMPACT_TOPIC}-0 offset {offset}: payload {payload[:40]!r} was never sent")
        latest_present[key] = offset
    if len({v for _, _, v in records}) != len(records):
        raise CheckFailed(f"{COMPACT_TOPIC}-0: a payload appears twice")
    latest_acked = {}
    for offset, (key, payload) in acked.items():
        if offset >= high:
            raise CheckFailed(f"{COMPACT_TOPIC}-0: acknowledged offset {offset} is past the log end {high}")
        if offset > latest_acked.get(key, (-1, None))[0]:
            latest_acked[key] = (offset, payload)
    for key, (offset, payload) in latest_acked.items():
        present = by_offset.get(offset)
        if present is not None and present != (key, payload):
            raise CheckFailed(f"{COMPACT_TOPIC}-0 offset {offset}: acknowledged {key}={payload[:30]!r}, "
                              f"log holds {present[0]}={present[1][:30]!r}")
        if present is None and latest_present.get(key, -1) <= offset:
            raise CheckFailed(f"{COMPACT_TOPIC}-0: key {key}'s latest acknowledged record (offset {offset}) is gone "
                              f"and no later record of the key replaced it")
    directory = os.path.join(server.data_dir, f"{COMPACT_TOPIC}-0")
    segment_dump_verify(segment_dump, [directory], ledger)
    return len(records), high


def create_topic(bootstrap):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({**QUIET, "bootstrap.servers": bootstrap})
    topics = [NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1),
              NewTopic(COMPACT_TOPIC, num_partitions=1, replication_factor=1,
                       config={"cleanup.policy": "compact", "segment.bytes": "65536",
                               "min.cleanable.dirty.ratio": "0.01"})]
    for future in admin.create_topics(topics).values():
        future.result(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", required=True)
    parser.add_argument("--segment-dump", required=True)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--data-dir", default=None, help="kept afterwards; default a temporary directory")
    parser.add_argument("--min-run", type=float, default=0.2, help="shortest load phase before a kill (s)")
    parser.add_argument("--max-run", type=float, default=2.0, help="longest load phase before a kill (s)")
    parser.add_argument("--full-every", type=int, default=10, help="read the whole log every N cycles")
    parser.add_argument("--no-strata-client", action="store_true",
                        help="leave out the StrataClient producer (`strata produce --print-offsets`)")
    parser.add_argument("--set", action="append", default=[], help="extra server setting key=value")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    print(f"crash campaign: seed {seed}, {args.cycles} cycles", flush=True)
    owned = args.data_dir is None
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="strata-crash-")
    os.makedirs(data_dir, exist_ok=True)
    log_path = data_dir.rstrip("/") + ".server.log"
    extra = [x for pair in args.set for x in ("--set", pair)]
    server = Server(args.strata, data_dir, free_port(), log_path, extra)
    ledger = Ledger()
    verified_end = {}
    started = time.time()
    totals = {"cycles": 0, "records_checked": 0, "kills": 0, "recoveries": 0,
              "segments_truncated": 0, "compactions": 0}
    failure = None
    swift = None
    try:
        server.start()
        create_topic(server.bootstrap)
        if not args.no_strata_client:
            swift = StrataClientProducer(args.strata, server.bootstrap, ledger, rng.randrange(1 << 30))
        for cycle in range(1, args.cycles + 1):
            if swift:
                swift.check_alive()
                swift.feeding.set()
            stop = threading.Event()
            failures = []
            threads = [threading.Thread(target=producer_loop, args=(server.bootstrap, ledger, f"c{cycle}i{i}",
                                                                    i % 2 == 0, rng.randrange(1 << 30), stop,
                                                                    failures))
                       for i in range(3)]
            threads.append(threading.Thread(target=producer_loop, args=(server.bootstrap, ledger, f"c{cycle}k", True,
                                                                        rng.randrange(1 << 30), stop, failures,
                                                                        True)))
            for thread in threads:
                thread.start()
            consumer = ConsumerProcess(server.bootstrap, ledger, stop, failures)
            time.sleep(rng.uniform(args.min_run, args.max_run))
            server.kill9()
            totals["kills"] += 1
            killed = time.time()
            stop.set()
            consumer.kill()  # before the restart: no commit of this cycle's consumer reaches the next server
            if swift:
                swift.pause()  # what reaches the log before a check must be in the ledger before it
            for thread in threads:
                thread.join(timeout=60)
            joined = time.time()
            if failures:
                raise CheckFailed(f"cycle {cycle}: {failures[0]}")
            before = os.path.getsize(log_path)
            server.start()
            with open(log_path, "rb") as log:
                log.seek(before)
                text = log.read()
                totals["recoveries"] += b"no clean-shutdown marker" in text
                totals["segments_truncated"] += text.count(b"recovery truncated segment")
                totals["compactions"] += text.count(b"compacted")
            restarted = time.time()
            timing = f"clients stopped in {joined - killed:.1f} s, restart {restarted - joined:.1f} s, "
            full = cycle % args.full_every == 0 or cycle == args.cycles
            verified_end, checked = verify(server, ledger, verified_end, full, args.segment_dump)
            totals["records_checked"] += checked
            compacted_records, compacted_end = verify_compacted(server, ledger, args.segment_dump)
            totals["cycles"] = cycle
            print(f"cycle {cycle}: killed; acked so far {len(ledger.acked)}, log ends {verified_end}, "
                  f"checked {checked}{' (full)' if full else ''}; {timing}checks {time.time() - restarted:.1f} s, "
                  f"commits {ledger.committed}; StrataClient acked {ledger.acked_by.get('StrataClient', 0)}; compacted topic {compacted_records} records of {compacted_end}", flush=True)
        if swift:
            swift.close()
        status = server.stop()
        if status != 0:
            raise CheckFailed(f"server exited {status} on SIGTERM; see {log_path}")
    except CheckFailed as error:
        failure = str(error)
    finally:
        if swift:
            swift.kill()
        server.kill9()
    summary = {"ok": failure is None, "seed": seed, **totals, "acked": len(ledger.acked),
               "compacted_acked": len(ledger.compact_acked),
               "acked_by_strata_client": ledger.acked_by.get("StrataClient", 0), "sent": len(ledger.sent),
               "delivery_errors": ledger.delivery_errors,
               "transient_verify_problems": len(ledger.transient_verify_problems),
               "seconds": round(time.time() - started, 1), "data_dir": data_dir}
    if failure:
        summary["error"] = failure
        summary["server_log"] = log_path
    elif owned:
        shutil.rmtree(data_dir, ignore_errors=True)
        os.remove(log_path)
    print(json.dumps(summary), flush=True)
    sys.exit(0 if failure is None else 1)


if __name__ == "__main__" and sys.argv[1:2] == ["--consumer-child"]:
    consumer_child(sys.argv[2])
elif __name__ == "__main__":
    main()
