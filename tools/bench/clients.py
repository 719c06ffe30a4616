#!/usr/bin/env python3
"""StrataClient (`strata perf`) against librdkafka (`rdkafka_performance`), same server, same run.

Each round starts a fresh Strata server and, for 100 B and 1 KiB records, runs in turn:
rdkafka_performance produce acks=1, `strata perf produce` acks=1, the same two with acks=all, then
both consumers reading the acks=1 topic from the start, first both without CRC checks (librdkafka's
default), then both with (StrataClient's default). Every figure is the median of its rounds;
ratios are worked out within this run only. Client CPU is the client process's user+system time per
message (from the rusage of the waited-for child), server CPU the server's over the client's wall time.

Both producers use one partition, no compression, batch.size 1 000 000, linger.ms 5, no
idempotence (rdkafka_performance's defaults, which `strata perf` is told to match) and at most 5
requests in flight (Kafka's default; librdkafka's own is 1 000 000, StrataClient's 5). Standard library
only; uses the process and report helpers of peers.py. Called by `compare --clients`.
"""

import argparse
import datetime
import json
import os
import re
import resource
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

SIZES = (100, 1024)
# max.in.flight.requests.per.connection for both producers (one partition, so per connection = per
# partition): Kafka's default. Left to their own defaults, librdkafka would keep up to 1 000 000
# requests in flight and StrataClient 5, which decides acks=all throughput more than either client.
MAX_IN_FLIGHT = 5


class ClientBench(peers.Bench):
    def timed(self, argv, server, expect_count):
        """Runs a client; returns (stdout, wall, server CPU %, client CPU µs per message)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out, wall, cpu = self.run_client(argv, server)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return out, wall, cpu, client / max(expect_count, 1) * 1e6

    def rdk_produce(self, key, broker, proc, topic, size, count, acks):
        argv = [self.args.rdkp, "-P", "-t", topic, "-p", "0", "-b", broker, "-s", str(size), "-c", str(count),
                "-a", str(acks), "-X", "enable.idempotence=false", "-X", "linger.ms=5",
                "-X", f"max.in.flight={MAX_IN_FLIGHT}"]
        out, wall, cpu, us = self.timed(argv, proc, count)
        m = re.findall(r"(\d+) messages produced \((\d+) bytes\), (\d+) delivered \(offset (-?\d+), (\d+) failed\)"
                       r" in (\d+)ms: (\d+) msgs/s and ([\d.]+) MB/s", out)
        if not m:
            raise RuntimeError(f"no rdkafka_performance summary in: {out[-400:]}")
        _, _, delivered, _, failed, _, msgps, mbps = m[-1]
        if int(delivered) != count or int(failed):
            raise RuntimeError(f"{delivered}/{count} delivered, {failed} failed")
        self.record(key, msgps=float(msgps), MBps=float(mbps), cpu=cpu, client_us=us)

    def rdk_consume(self, key, broker, proc, topic, count, check_crcs):
        argv = [self.args.rdkp, "-C", "-t", topic, "-p", "0", "-b", broker, "-o", "beginning", "-e",
                "-c", str(count), "-X", f"check.crcs={'true' if check_crcs else 'false'}"]
        out, wall, cpu, us = self.timed(argv, proc, count)
        m = re.findall(r"(\d+) messages \((\d+) bytes\) consumed in (\d+)ms: (\d+) msgs/s \(([\d.]+) MB/s\)", out)
        if not m:
            raise RuntimeError(f"no rdkafka_performance summary in: {out[-400:]}")
        n, _, _, msgps, mbps = m[-1]
        if int(n) != count:
            raise RuntimeError(f"consumed {n} of {count}")
        self.record(key, msgps=float(msgps), MBps=float(mbps), cpu=cpu, client_us=us)

    def strata_produce(self, key, broker, proc, topic, size, count, acks):
        argv = [self.args.strata, "perf", "produce", topic, "--bootstrap", broker, "--num-records", str(count),
                "--record-size", str(size), "--acks", "all" if acks == -1 else str(acks),
                "--batch-size", "1000000", "--linger-ms", "5", "--compression", "none", "--no-idempotence",
                "--max-in-flight", str(MAX_IN_FLIGHT)]
        out, wall, cpu, us = self.timed(argv, proc, count)
        m = re.findall(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
                       r"([\d.]+) ms max latency, ([\d.]+) ms 50th, ([\d.]+) ms 99th", out)
        if not m:
            raise RuntimeError(f"no strata perf summary in: {out[-400:]}")
        n, rps, mbps, _, _, p50, p99 = m[-1]
        if int(n) != count:
            raise RuntimeError(f"sent {n} of {count}")
        self.record(key, msgps=float(rps), MBps=float(mbps), p50_ms=float(p50), p99_ms=float(p99), cpu=cpu,
                    client_us=us)

    def strata_consume(self, key, broker, proc, topic, count, check_crcs):
        argv = [self.args.strata, "perf", "consume", topic, "--bootstrap", broker, "--num-records", str(count)]
        if not check_crcs:
            argv.append("--no-check-crcs")
        out, wall, cpu, us = self.timed(argv, proc, count)
        m = re.findall(r"(\d+) records consumed, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", out)
        if not m:
            raise RuntimeError(f"no strata perf summary in: {out[-400:]}")
        n, rps, mbps = m[-1]
        if int(n) != count:
            raise RuntimeError(f"consumed {n} of {count}")
        self.record(key, msgps=float(rps), MBps=float(mbps), cpu=cpu, client_us=us)

    def round(self, rnd):
        print(f"round {rnd + 1}/{self.args.rounds} (time left {self.time_left():.0f} s)", flush=True)
        for size in SIZES:
            s = str(size)
            # 3 M × 100 B and 900 k × 1 KiB: at ~1 GB/s a smaller 1 KiB run lasts ~0.3 s, and its
            # figures swung 3× between rounds of the same build (start-up and one stall dominate).
            count = int((3_000_000 if size == 100 else 900_000) * self.args.scale)  # as in report()
            proc, broker = self.start_strata()
            try:
                for acks, name in ((1, "acks1"), (-1, "acksall")):
                    # Alternate who goes first, so neither always gets the warmer server.
                    order = [("rdk", self.rdk_produce), ("swift", self.strata_produce)]
                    if rnd % 2:
                        order.reverse()
                    for client, fn in order:
                        key = f"{client}.{name}.{s}"
                        topic = f"{client}-{name}-{s}-{rnd}"
                        self.attempt(key, lambda fn=fn, key=key, topic=topic, acks=acks:
                                     fn(key, broker, proc, topic, size, count, acks))
                topic = f"rdk-acks1-{s}-{rnd}"
                # Like for like: both skip the CRC check (librdkafka's default), then both do it
                # (StrataClient's and Java's default).
                for name, crcs in (("consume", False), ("consumecrc", True)):
                    order = [("rdk", self.rdk_consume), ("swift", self.strata_consume)]
                    if rnd % 2:
                        order.reverse()
                    for client, fn in order:
                        key = f"{client}.{name}.{s}"
                        self.attempt(key, lambda fn=fn, key=key, crcs=crcs:
                                     fn(key, broker, proc, topic, count, crcs))
            finally:
                self.stop_server(proc)


def report(b, load_start, load_end, started_at, elapsed):
    L = [f"# StrataClient vs librdkafka — {started_at} UTC", ""]
    L.append(f"Machine: {peers.machine_line()}. Load average at start {load_start}, at end {load_end}. "
             f"Run took {elapsed:.0f} s, {b.args.rounds} rounds (medians), loopback, one fresh Strata server "
             f"per round and size, {3_000_000 * b.args.scale:,.0f} × 100 B and {900_000 * b.args.scale:,.0f} × 1 KiB "
             f"records per run. librdkafka {peers.librdkafka_version(b.args.rdkp)} (rdkafka_performance).")
    L.append("")
    L.append("| workload | size | librdkafka msg/s | StrataClient msg/s | StrataClient / librdkafka | "
             "client CPU µs/msg librdkafka / StrataClient | server CPU % librdkafka / StrataClient | goal |")
    L.append("|---|---|---|---|---|---|---|---|")
    for size in SIZES:
        s = str(size)
        for name, label in (("acks1", "produce acks=1"), ("acksall", "produce acks=all"),
                            ("consume", "consume, CRCs not checked"), ("consumecrc", "consume, CRCs checked")):
            r, w = b.med(f"rdk.{name}.{s}"), b.med(f"swift.{name}.{s}")
            ratio = w / r if r and w else None
            verdict = "—" if ratio is None else ("PASS" if ratio >= 0.8 else "MISS")
            L.append(f"| {label} | {size} B | {peers.fmt_rate(r)} | {peers.fmt_rate(w)} | "
                     f"{peers.fmt(ratio * 100 if ratio else None, '.0f', ' %')} | "
                     f"{peers.fmt(b.med(f'rdk.{name}.{s}', 'client_us'), '.2f')} / "
                     f"{peers.fmt(b.med(f'swift.{name}.{s}', 'client_us'), '.2f')} | "
                     f"{peers.fmt(b.med(f'rdk.{name}.{s}', 'cpu'), '.0f')} / "
                     f"{peers.fmt(b.med(f'swift.{name}.{s}', 'cpu'), '.0f')} | ≥ 80 %: {verdict} |")
    L.append("")
    L.append("Goal from issue 6: StrataClient ≥ 80 % of librdkafka's msg/s. Both producers: one partition, "
             "batch.size 1 000 000, linger.ms 5, no compression, idempotence off, "
             f"max.in.flight {MAX_IN_FLIGHT}; figures count acknowledged "
             "messages. Consumers: \"CRCs not checked\" runs librdkafka with check.crcs=false (its default) and "
             "StrataClient with checkCRCs=false (--no-check-crcs); \"CRCs checked\" runs librdkafka with "
             "check.crcs=true and StrataClient with its default (checkCRCs=true). Client CPU is user+system time of the client process divided by the messages (start-up "
             "included); the machine has two cores shared by client and server.")
    if b.notes:
        L.append("")
        L.append("Notes from this run:")
        L.extend(f"- {n}" for n in b.notes)
    return "\n".join(L) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strata", required=True)
    p.add_argument("--rdkp", required=True)
    p.add_argument("--tools", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--tmp-dir", default=None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--budget-seconds", type=float, default=540)
    args = p.parse_args()
    b = ClientBench(args)

    def on_signal(sig, frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load_start = peers.loadavg()
    print(f"machine: {peers.machine_line()}; load average {load_start}", flush=True)
    t0 = time.monotonic()
    try:
        for rnd in range(args.rounds):
            try:
                b.round(rnd)
            except peers.Deadline as e:
                b.notes.append(f"stopped after {rnd} full rounds: {e}")
                break
    except KeyboardInterrupt:
        b.close()
        return 130
    finally:
        b.close()
    text = report(b, load_start, peers.loadavg(), started_at, time.monotonic() - t0)
    os.makedirs(args.results, exist_ok=True)
    name = os.path.join(args.results, f"clients-{started_at.replace(' ', 'T').replace(':', '')}.md")
    with open(name, "w") as f:
        f.write(text)
    with open(name[:-3] + ".json", "w") as f:
        json.dump({"results": b.results, "notes": b.notes}, f, indent=1)
    print()
    print(text)
    print(f"written to {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
