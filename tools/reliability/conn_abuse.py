#!/usr/bin/env python3
"""Connection abuse: many idle connections, slowloris partial frames and clients that never read
their answers, alongside active acks=all producers and consumers (confluent-kafka), against the real
`strata serve`. Checks: the server stays up, every active record is acknowledged and consumed,
a probe's ApiVersions round trip stays fast, the server's RSS stays bounded, idle connections are
held (not dropped) and the non-reading clients are throttled rather than buffered without limit.

Exit status 0 = all checks passed, 1 = a check failed, 2 = the harness could not run. The last
stdout line is a JSON summary.

usage: conn_abuse.py --strata BIN [--idle N] [--active N] [--slowloris N] [--non-readers N] [--seconds S]
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

QUIET = {"log_level": 0, "log.connection.close": False}
RSS_GROWTH_BYTES_MAX = 512 << 20
PROBE_SECONDS_MAX = 5.0


def frame(api_key, version, correlation_id, body=b""):
    header = struct.pack(">hhih", api_key, version, correlation_id, 5) + b"abuse"
    return struct.pack(">i", len(header) + len(body)) + header + body


def api_versions(correlation_id):
    return frame(18, 0, correlation_id)


def fetch_v4(correlation_id, topic, partition_max_bytes=1 << 20):
    name = topic.encode()
    body = struct.pack(">iiii", -1, 0, 1, 50 << 20) + b"\x00"  # replica, max_wait, min_bytes, max_bytes, iso
    body += struct.pack(">i", 1) + struct.pack(">h", len(name)) + name
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, partition_max_bytes)
    return frame(1, 4, correlation_id, body)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def probe(port):
    """One ApiVersions round trip on a fresh connection; returns its duration in seconds."""
    started = time.time()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(api_versions(7))
        size = struct.unpack(">i", recv_exactly(s, 4))[0]
        recv_exactly(s, size)
    return time.time() - started


def recv_exactly(s, count):
    data = b""
    while len(data) < count:
        chunk = s.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata", required=True)
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--active", type=int, default=100, help="producers + consumers (half each)")
    parser.add_argument("--slowloris", type=int, default=200)
    parser.add_argument("--non-readers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.idle + args.slowloris + args.non_readers + 20 * args.active + 1000
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))
    data_dir = tempfile.mkdtemp(prefix="strata-abuse-")
    log_path = data_dir + ".server.log"
    failure = None
    summary = {}
    server = None
    sockets = []
    try:
        with open(log_path, "wb") as log:
            server = subprocess.Popen([args.strata, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
                                       "--metrics", "off", "--set", "num.partitions=4"],
                                      stdout=subprocess.PIPE, stderr=log)
        line = server.stdout.readline().decode()
        if not line.startswith("strata listening on"):
            raise RuntimeError(f"server did not start: {line!r}; see {log_path}")
        port = int(line.rsplit(":", 1)[1])
        bootstrap = f"127.0.0.1:{port}"
        baseline_rss = rss_bytes(server.pid)
        server_limit = [l for l in open(f"/proc/{server.pid}/limits") if l.startswith("Max open files")][0].split()
        summary["server_open_files_limit"] = int(server_limit[3])

        # Seed a topic with ~20 MiB so that non-readers' fetches have a lot to send.
        from confluent_kafka import Consumer, Producer, TopicPartition
        seeder = Producer({**QUIET, "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
        blob = b"z" * 10000
        for _ in range(2000):
            seeder.produce("abuse-big", value=blob, partition=0)
            seeder.poll(0)
        if seeder.flush(60) != 0:
            raise RuntimeError("seeding abuse-big did not finish")

        # Idle connections: connected, never a byte.
        started = time.time()
        for _ in range(args.idle):
            s = socket.socket()
            s.connect(("127.0.0.1", port))
            sockets.append(s)
        summary["idle_connect_seconds"] = round(time.time() - started, 1)

        # Non-readers: pipeline fetches of the big topic and never read an answer.
        non_readers = []
        for _ in range(args.non_readers):
            s = socket.socket()
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            non_readers.append(s)
            sockets.append(s)
        requests = b"".join(fetch_v4(i, "abuse-big") for i in range(200))

        # Slowloris: one byte of a frame at a time.
        slow = []
        for _ in range(args.slowloris):
            s = socket.socket()
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            slow.append([s, api_versions(1) * 3, 0])
            sockets.append(s)

        # Active clients.
        stop = threading.Event()
        stats = {"acked": 0, "errors": 0, "consumed": 0}
        lock = threading.Lock()
        producers_count = max(1, args.active // 2)
        consumers_count = max(1, args.active - producers_count)

        def produce(index):
            producer = Producer({**QUIET, "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                                 "enable.idempotence": index % 2 == 0})

            def delivered(error, _message):
                with lock:
                    stats["errors" if error else "acked"] += 1

            while not stop.is_set():
                for _ in range(20):
                    producer.produce("abuse-active", value=f"p{index}".encode(), on_delivery=delivered)
                producer.poll(0.05)
            if producer.flush(30) != 0:
                with lock:
                    stats["errors"] += len(producer)

        def consume(index):
            consumer = Consumer({**QUIET, "bootstrap.servers": bootstrap, "group.id": f"abuse-{index % 5}",
                                 "auto.offset.reset": "earliest", "session.timeout.ms": 10000})
            consumer.subscribe(["abuse-active"])
            while not stop.is_set():
                messages = consumer.consume(num_messages=500, timeout=0.2)
                with lock:
                    stats["consumed"] += sum(1 for m in messages if not m.error())
            consumer.close()

        threads = [threading.Thread(target=produce, args=(i,)) for i in range(producers_count)]
        threads += [threading.Thread(target=consume, args=(i,)) for i in range(consumers_count)]
        for thread in threads:
            thread.start()

        probes = []
        peak_rss = baseline_rss
        peak_fds = 0
        non_reader_bytes_sent = 0
        deadline = time.time() + args.seconds
        next_probe = time.time()
        while time.time() < deadline:
            if server.poll() is not None:
                raise AssertionError(f"server exited with {server.returncode}; see {log_path}")
            for entry in slow:
                s, data, position = entry
                if position < len(data):
                    try:
                        entry[2] += s.send(data[position:position + 1])
                    except (BlockingIOError, ConnectionError, OSError):
                        pass
            for s in non_readers:
                try:
                    non_reader_bytes_sent += s.send(requests)
                except (BlockingIOError, ConnectionError, OSError):
                    pass
            if time.time() >= next_probe:
                probes.append(probe(port))
                peak_rss = max(peak_rss, rss_bytes(server.pid))
                peak_fds = max(peak_fds, open_fds(server.pid))
                next_probe = time.time() + 0.5
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        still_open = 0
        for s in sockets[:args.idle]:
            s.setblocking(False)
            try:
                s.recv(1)  # b"": the server closed it; bytes: it answered a request never sent
            except BlockingIOError:
                still_open += 1  # nothing to read and not closed: the server kept it
            except OSError:
                pass
        probes.sort()
        summary.update({
            "idle": args.idle, "idle_still_open": still_open, "active": args.active, "slowloris": args.slowloris,
            "non_readers": args.non_readers, "non_reader_request_bytes_accepted": non_reader_bytes_sent,
            "seconds": args.seconds, **stats, "probes": len(probes),
            "probe_p50_ms": round(1000 * probes[len(probes) // 2], 1) if probes else None,
            "probe_max_ms": round(1000 * probes[-1], 1) if probes else None,
            "rss_baseline_mib": baseline_rss >> 20, "rss_peak_mib": peak_rss >> 20, "server_fds_peak": peak_fds,
        })
        if stats["errors"]:
            raise AssertionError(f"{stats['errors']} active records failed")
        if stats["acked"] == 0 or stats["consumed"] == 0:
            raise AssertionError("active clients made no progress")
        if probes and probes[-1] > PROBE_SECONDS_MAX:
            raise AssertionError(f"probe took {probes[-1]:.2f} s")
        if peak_rss - baseline_rss > RSS_GROWTH_BYTES_MAX:
            raise AssertionError(f"server RSS grew from {baseline_rss >> 20} to {peak_rss >> 20} MiB")
        if still_open < args.idle:
            raise AssertionError(f"only {still_open} of {args.idle} idle connections are still open")
        for s in sockets:
            s.close()
        sockets = []
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=60)
        if status != 0:
            raise AssertionError(f"server exited {status} on SIGTERM")
    except (AssertionError, RuntimeError, subprocess.TimeoutExpired) as error:
        failure = str(error)
    finally:
        for s in sockets:
            s.close()
        if server and server.poll() is None:
            server.kill()
            server.wait()
    summary["ok"] = failure is None
    if failure:
        summary["error"] = failure
        summary["server_log"] = log_path
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
        os.remove(log_path)
    print(json.dumps(summary), flush=True)
    sys.exit(0 if failure is None else 1)


if __name__ == "__main__":
    main()
