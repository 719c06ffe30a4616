#!/usr/bin/env python3
"""Real disk-full campaign: `strata serve` on a size-limited tmpfs (mounted here, needs root).

Fills the filesystem with acks=all producers until the broker refuses writes, then checks: the
refusals are errors (never acknowledgements), every acknowledged record is readable at its offset,
the server stays up and serves reads; after space is freed, writes resume; after kill -9 and a
restart, everything acknowledged is still there and `segment-dump --verify` is clean.

Exit status 0 = all checks passed, 1 = a check failed, 2 = cannot run here (no root / no mount).
The last stdout line is a JSON summary.

usage: disk_full.py --strata BIN --segment-dump BIN [--size-mib 64] [--mount DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import time

QUIET = {"log_level": 0, "log.connection.close": False}


def start(binary, data_dir, log_path):
    with open(log_path, "ab") as log:
        process = subprocess.Popen([binary, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--metrics",
                                    "off", "--set", "log.segment.bytes=4194304",
                                    "--set", "log.index.size.max.bytes=262144",
                                    "--set", "offsets.topic.num.partitions=1"],
                                   stdout=subprocess.PIPE, stderr=log)
    line = process.stdout.readline().decode()
    if not line.startswith("strata listening on"):
        process.kill()
        raise AssertionError(f"server did not start ({line!r}); see {log_path}")
    return process, f"127.0.0.1:{int(line.rsplit(':', 1)[1])}"


def produce(bootstrap, prefix, count, acked, errors):
    from confluent_kafka import Producer
    producer = Producer({**QUIET, "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                         "enable.idempotence": False, "retries": 0, "message.timeout.ms": 20000})

    def delivered(error, message):
        if error is None:
            acked[message.offset()] = message.value().decode()
        else:
            errors.append(error.str())

    value_padding = "x" * 8000
    for index in range(count):
        producer.produce("full", value=f"{prefix}-{index}-{value_padding}".encode(), partition=0,
                         on_delivery=delivered)
        producer.poll(0)
        if len(errors) >= 200:
            break
    producer.flush(60)


def read_all(bootstrap):
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({**QUIET, "bootstrap.servers": bootstrap, "group.id": "disk-full-reader",
                         "enable.auto.commit": False})
    low, high = consumer.get_watermark_offsets(TopicPartition("full", 0), timeout=30)
    consumer.assign([TopicPartition("full", 0, low)])
    records = {}
    deadline = time.time() + 60
    while len(records) < high - low and time.time() < deadline:
        for message in consumer.consume(num_messages=1000, timeout=1.0):
            if message.error():
                raise AssertionError(f"fetch error {message.error()}")
            records[message.offset()] = message.value().decode()
    consumer.close()
    return low, high, records


def check(acked, records, high, when):
    offsets = sorted(records)
    if offsets != list(range(len(offsets))) or len(offsets) != high:
        raise AssertionError(f"{when}: offsets not contiguous 0..{high}: got {len(offsets)}")
    for offset, payload in acked.items():
        if records.get(offset) != payload:
            raise AssertionError(f"{when}: acknowledged offset {offset} holds {str(records.get(offset))[:30]!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", required=True)
    parser.add_argument("--segment-dump", required=True)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--mount", default="/tmp/strata-disk-full")
    args = parser.parse_args()
    os.makedirs(args.mount, exist_ok=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.size_mib}m", "tmpfs", args.mount],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        print(json.dumps({"ok": None, "skipped": f"cannot mount tmpfs: {mount.stderr.strip()}"}))
        sys.exit(2)
    data_dir = os.path.join(args.mount, "data")
    log_path = "/tmp/strata-disk-full.server.log"
    summary = {"size_mib": args.size_mib}
    failure = None
    server = None
    try:
        server, bootstrap = start(args.strata, data_dir, log_path)
        filler = os.path.join(args.mount, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (8 << 20))
        acked, errors = {}, []
        produce(bootstrap, "fill", 20000, acked, errors)  # ~160 MB offered to a 64 MiB filesystem
        summary.update({"acked_until_full": len(acked), "refused": len(errors),
                        "refusal_errors": sorted(set(errors))[:3]})
        if not errors:
            raise AssertionError("the filesystem never filled up")
        if server.poll() is not None:
            raise AssertionError(f"server died when the disk filled; see {log_path}")
        low, high, records = read_all(bootstrap)
        check(acked, records, high, "disk full")
        summary["readable_while_full"] = len(records)
        os.remove(filler)
        resumed, resumed_errors = {}, []
        produce(bootstrap, "after", 200, resumed, resumed_errors)
        summary.update({"acked_after_freeing": len(resumed), "errors_after_freeing": len(resumed_errors)})
        acked.update(resumed)
        server.kill()
        server.wait()
        server, bootstrap = start(args.strata, data_dir, log_path)
        low, high, records = read_all(bootstrap)
        check(acked, records, high, "after kill -9 and restart")
        summary["records_after_restart"] = len(records)
        dump = subprocess.run([args.segment_dump, "--verify", os.path.join(data_dir, "full-0")], capture_output=True,
                              text=True)
        if dump.returncode != 0:
            raise AssertionError(f"segment-dump --verify: {(dump.stdout + dump.stderr)[-1500:]}")
        if not resumed:
            raise AssertionError(f"writes did not resume after space was freed: {resumed_errors[:3]}")
        server.terminate()
        if server.wait(timeout=30) != 0:
            raise AssertionError("server did not exit 0 on SIGTERM")
    except AssertionError as error:
        failure = str(error)
    finally:
        if server and server.poll() is None:
            server.kill()
            server.wait()
        subprocess.run(["umount", args.mount], capture_output=True)
    summary["ok"] = failure is None
    if failure:
        summary["error"] = failure
        summary["server_log"] = log_path
    print(json.dumps(summary), flush=True)
    sys.exit(0 if failure is None else 1)


if __name__ == "__main__":
    main()
