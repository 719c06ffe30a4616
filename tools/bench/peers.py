#!/usr/bin/env python3
"""Strata against its peers on this machine, in one run: the engine behind tools/bench/compare.

Every workload runs against Strata and against the peer in the same invocation, several rounds
interleaved (Redis, Strata, Redis, Strata, …), and each figure is the median of its rounds. Ratios are
worked out only within this run. Loopback only; every server gets a fresh data directory under one
temporary directory that is removed at the end, whatever happens.

Standard library only. Called by `compare` with the paths of the binaries it built; run `compare --help`.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_START_SECONDS_MAX = 30
RUN_SECONDS_MAX = 60          # one client run; past this it is killed and the figure is missing
STOP_SECONDS_MAX = 15         # SIGTERM → exit, then SIGKILL
SIZES = (100, 1024)


class Deadline(Exception):
    pass


class Bench:
    """Owns every process and directory this run creates; `close()` ends and removes them all."""

    def __init__(self, args):
        self.args = args
        self.procs = []           # servers we started, [(name, Popen)]
        self.tmp = tempfile.mkdtemp(prefix="strata-bench-", dir=args.tmp_dir)
        self.log_dir = os.path.join(self.tmp, "logs")
        os.makedirs(self.log_dir)
        self.started = time.monotonic()
        self.results = {}         # key → list of per-round dicts
        self.notes = []
        self.counter = 0
        self.client = None        # the client process running now, killed by close()

    # ---------------------------------------------------------------- processes

    def time_left(self):
        return self.args.budget_seconds - (time.monotonic() - self.started)

    def check_budget(self, need):
        if self.time_left() < need:
            raise Deadline(f"time budget exhausted ({self.args.budget_seconds:.0f} s)")

    def fresh_dir(self, name):
        self.counter += 1
        path = os.path.join(self.tmp, f"{name}-{self.counter}")
        os.makedirs(path)
        return path

    @staticmethod
    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def start_server(self, name, argv, ready, port):
        log = open(os.path.join(self.log_dir, f"{name}-{self.counter}.log"), "w")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.procs.append((name, proc))
        log.close()
        deadline = time.monotonic() + SERVER_START_SECONDS_MAX
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: see {log.name}\n"
                                   + open(log.name).read()[-2000:])
            with open(log.name) as f:
                text = f.read()
            if ready in text:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return proc
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"{name} not ready after {SERVER_START_SECONDS_MAX} s: see {log.name}")

    def stop_server(self, proc):
        for i, (_, p) in enumerate(self.procs):
            if p is proc:
                del self.procs[i]
                break
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_SECONDS_MAX)
            except subprocess.TimeoutExpired:
                self.notes.append(f"{proc.args[0]} did not stop within {STOP_SECONDS_MAX} s of SIGTERM; killed")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def close(self):
        if self.client is not None and self.client.poll() is None:
            os.killpg(self.client.pid, signal.SIGKILL)
            self.client.wait()
        for _, proc in list(self.procs):
            try:
                self.stop_server(proc)
            except Exception:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def cpu_ticks(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])   # utime + stime (fields 14, 15)

    def run_client(self, argv, server=None, stdin=None, timeout=RUN_SECONDS_MAX):
        """Runs a client to completion; returns (stdout, wall seconds, server CPU % of one core)."""
        self.check_budget(5)
        timeout = min(timeout, max(5, self.time_left() - 5))
        before = self.cpu_ticks(server.pid) if server else 0
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=stdin or subprocess.DEVNULL, start_new_session=True)
        self.client = proc
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"{os.path.basename(argv[0])} timed out after {timeout:.0f} s")
        finally:
            self.client = None if proc.poll() is not None else proc
        wall = time.monotonic() - t0
        cpu = None
        if server:
            cpu = 100.0 * (self.cpu_ticks(server.pid) - before) / CLK_TCK / wall
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])}… exited {proc.returncode}: {err.decode()[-800:]}")
        return out.decode(errors="replace"), wall, cpu

    def record(self, key, **fields):
        self.results.setdefault(key, []).append(fields)
        shown = ", ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        print(f"  {key}: {shown}", flush=True)

    def attempt(self, key, fn):
        try:
            fn()
        except Deadline:
            raise
        except Exception as e:                     # one failed run must not lose the others
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.notes.append(f"{key}: {msg}")
            print(f"  {key}: FAILED {msg}", flush=True)

    # ---------------------------------------------------------------- servers

    def start_strata(self, extra=()):
        port = self.free_port()
        data = self.fresh_dir("strata-data")
        argv = [self.args.strata, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}",
                "--metrics", "off"] + list(extra)
        proc = self.start_server("strata", argv, "strata listening on", port)
        return proc, f"127.0.0.1:{port}"

    def start_redis(self, fsync_always):
        port = self.free_port()
        data = self.fresh_dir("redis-data")
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", data, "--save", "",
                "--daemonize", "no", "--protected-mode", "yes", "--logfile", ""]
        argv += ["--appendonly", "yes", "--appendfsync", "always"] if fsync_always else ["--appendonly", "no"]
        proc = self.start_server("redis", argv, "Ready to accept connections", port)
        return proc, port

    # ---------------------------------------------------------------- clients

    def payload(self, size):
        return ("x" * size)

    def redis_xadd(self, key, port, proc, size, count):
        argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(self.args.redis_conns),
                "-P", str(self.args.redis_pipeline), "-n", str(count), "--csv",
                "XADD", "s", "*", "v", self.payload(size)]
        out, wall, cpu = self.run_client(argv, proc)
        row = None
        for line in out.splitlines():
            cells = [c.strip('"') for c in line.split('","')]
            if len(cells) >= 7 and cells[0].upper().startswith("XADD"):
                row = cells
        if row is None:
            raise RuntimeError(f"no redis-benchmark result in: {out[-300:]}")
        rps = float(row[1])
        self.record(key, msgps=rps, MBps=rps * size / 1e6, p50_ms=float(row[4]), p99_ms=float(row[6]),
                    cpu=cpu)

    def redis_xrange(self, key, port, proc, size):
        argv = [os.path.join(self.args.tools, "xrange"), "127.0.0.1", str(port), "s",
                str(self.args.xrange_count)]
        out, wall, cpu = self.run_client(argv, proc)
        r = json.loads(out.strip().splitlines()[-1])
        self.record(key, msgps=float(r["msgps"]), MBps=float(r["MBps"]), cpu=cpu, n=r["entries"])

    def rdkp_produce(self, key, broker, proc, topic, size, count, acks, extra=()):
        argv = [self.args.rdkp, "-P", "-t", topic, "-p", "0", "-b", broker, "-s", str(size), "-c", str(count),
                "-a", str(acks), "-X", "enable.idempotence=false"] + self.args.rdkp_extra + list(extra)
        out, wall, cpu = self.run_client(argv, proc)
        m = re.findall(r"(\d+) messages produced \((\d+) bytes\), (\d+) delivered \(offset (-?\d+), (\d+) failed\)"
                       r" in (\d+)ms: (\d+) msgs/s and ([\d.]+) MB/s", out)
        if not m:
            raise RuntimeError(f"no rdkafka_performance summary in: {out[-400:]}")
        produced, _, delivered, _, failed, ms, msgps, mbps = m[-1]
        if int(delivered) != count or int(failed):
            raise RuntimeError(f"{delivered}/{count} delivered, {failed} failed")
        self.record(key, msgps=float(msgps), MBps=float(mbps), cpu=cpu)

    def rdkp_consume(self, key, broker, proc, topic, count):
        argv = [self.args.rdkp, "-C", "-t", topic, "-p", "0", "-b", broker, "-o", "beginning", "-e",
                "-c", str(count)] + self.args.rdkp_consume_extra
        out, wall, cpu = self.run_client(argv, proc)
        m = re.findall(r"(\d+) messages \((\d+) bytes\) consumed in (\d+)ms: (\d+) msgs/s \(([\d.]+) MB/s\)", out)
        if not m:
            raise RuntimeError(f"no rdkafka_performance summary in: {out[-400:]}")
        n, _, _, msgps, mbps = m[-1]
        if int(n) != count:
            raise RuntimeError(f"consumed {n} of {count}")
        self.record(key, msgps=float(msgps), MBps=float(mbps), cpu=cpu)

    def kcat_input(self, size, count):
        path = os.path.join(self.tmp, f"kcat-{size}-{count}.txt")
        if not os.path.exists(path):
            line = (("k" * size) + "\n").encode()
            with open(path, "wb") as f:
                f.write(line * count)
        return path

    def kcat_produce(self, key, broker, proc, topic, size, count, acks):
        path = self.kcat_input(size, count)
        with open(path, "rb") as f:
            argv = ["kcat", "-P", "-b", broker, "-t", topic, "-p", "0", "-X", f"acks={acks}",
                    "-X", "enable.idempotence=false", "-X", "queue.buffering.max.messages=1000000"]
            _, wall, cpu = self.run_client(argv, proc, stdin=f)
        self.record(key, msgps=count / wall, MBps=count * size / wall / 1e6, cpu=cpu)

    def kcat_consume(self, key, broker, proc, topic, size, count):
        argv = ["kcat", "-C", "-b", broker, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                "-c", str(count), "-f", "%s\n"]
        out, wall, cpu = self.run_client(argv, proc)
        n = out.count("\n")
        if n != count:
            raise RuntimeError(f"kcat consumed {n} of {count}")
        self.record(key, msgps=count / wall, MBps=count * size / wall / 1e6, cpu=cpu)

    def e2e(self, key, broker, proc, acks, size, rate=None):
        argv = [os.path.join(self.args.tools, "e2e_latency"), broker, f"lat-{acks}-{self.counter}", str(acks),
                str(rate or self.args.latency_rate), str(self.args.latency_seconds), str(size)]
        out, wall, cpu = self.run_client(argv, proc)
        r = json.loads(out.strip().splitlines()[-1])
        if not r["complete"]:
            self.notes.append(f"{key}: incomplete: {r['consumed']} of {r['sent']} consumed, not every delivery "
                              "report back within 15 s of the last send; percentiles are of those that arrived")
        self.record(key, msgps=float(r["achieved_rate"]), MBps=float(r["achieved_rate"]) * size / 1e6,
                    p50_ms=r["e2e_p50_us"] / 1000, p99_ms=r["e2e_p99_us"] / 1000, p999_ms=r["e2e_p999_us"] / 1000,
                    ack_p50_ms=r["ack_p50_us"] / 1000, ack_p99_ms=r["ack_p99_us"] / 1000, cpu=cpu)

    def disk(self, rnd):
        tools = self.args.tools
        d = self.fresh_dir("disk")
        out, _, _ = self.run_client([os.path.join(tools, "diskbase"), "seqwrite", d, str(self.args.seqwrite_mib)])
        r = json.loads(out)
        self.record("disk.seqwrite", MBps=float(r["MBps"]))
        out, _, _ = self.run_client([os.path.join(tools, "diskbase"), "fsynclat", d, str(self.args.fsync_count)])
        r = json.loads(out)
        self.record("disk.fdatasync", msgps=float(r["per_second"]), p50_ms=r["p50_us"] / 1000,
                    p99_ms=r["p99_us"] / 1000)
        out, _, _ = self.run_client([os.path.join(tools, "diskbase"), "memcpy", "256", "5"])
        r = json.loads(out)
        self.record("mem.memcpy", MBps=float(r["GBps_median"]) * 1000)
        shutil.rmtree(d, ignore_errors=True)

    # ---------------------------------------------------------------- plan

    def counts(self, size):
        a = self.args
        scale = a.scale
        if size == 100:
            return dict(fast=int(2_000_000 * scale), durable=int(2_000_000 * scale), redis=int(1_000_000 * scale),
                        redis_aof=int(500_000 * scale), kcat=int(1_000_000 * scale))
        return dict(fast=int(500_000 * scale), durable=int(500_000 * scale), redis=int(300_000 * scale),
                    redis_aof=int(200_000 * scale), kcat=int(300_000 * scale))

    def round(self, rnd):
        print(f"round {rnd + 1}/{self.args.rounds} (time left {self.time_left():.0f} s)", flush=True)
        self.attempt("disk", lambda: self.disk(rnd))
        for size in SIZES:
            n = self.counts(size)
            s = f"{size}"
            # The client's own ceiling: the same producer into librdkafka's in-process mock broker.
            self.attempt(f"ceiling.rdk.{s}", lambda: self.rdkp_produce(
                f"ceiling.rdk.{s}", "127.0.0.1:9", None, "mock", size, n["fast"], 1,
                ["-X", "test.mock.num.brokers=1"]))
            self.attempt(f"redis.{s}", lambda: self.redis_block(size, n))
            self.attempt(f"redis.fsync.{s}", lambda: self.redis_fsync_block(size, n))
            self.attempt(f"strata.{s}", lambda: self.strata_block(rnd, size, n))

    def redis_block(self, size, n):
        """Redis, no persistence: XADD, then XRANGE of the same stream from the start."""
        s = str(size)
        proc, port = self.start_redis(False)
        try:
            self.attempt(f"redis.xadd.{s}", lambda: self.redis_xadd(f"redis.xadd.{s}", port, proc, size, n["redis"]))
            self.attempt(f"redis.xrange.{s}", lambda: self.redis_xrange(f"redis.xrange.{s}", port, proc, size))
        finally:
            self.stop_server(proc)

    def redis_fsync_block(self, size, n):
        """Redis with AOF appendfsync always: XADD."""
        s = str(size)
        proc, port = self.start_redis(True)
        try:
            self.attempt(f"redis.xadd_fsync.{s}",
                         lambda: self.redis_xadd(f"redis.xadd_fsync.{s}", port, proc, size, n["redis_aof"]))
        finally:
            self.stop_server(proc)

    def strata_block(self, rnd, size, n):
        """Strata, one fresh server: produce acks=1, consume it from the start, acks=all, kcat both ways."""
        s = str(size)
        proc, broker = self.start_strata()
        try:
            t1, tall, tk = f"p1-{s}", f"pall-{s}", f"k1-{s}"
            self.attempt(f"strata.rdk.acks1.{s}",
                         lambda: self.rdkp_produce(f"strata.rdk.acks1.{s}", broker, proc, t1, size, n["fast"], 1))
            self.attempt(f"strata.rdk.consume.{s}",
                         lambda: self.rdkp_consume(f"strata.rdk.consume.{s}", broker, proc, t1, n["fast"]))
            self.attempt(f"strata.rdk.acksall.{s}",
                         lambda: self.rdkp_produce(f"strata.rdk.acksall.{s}", broker, proc, tall, size,
                                                   n["durable"], -1))
            self.attempt(f"strata.kcat.acks1.{s}",
                         lambda: self.kcat_produce(f"strata.kcat.acks1.{s}", broker, proc, tk, size, n["kcat"], 1))
            self.attempt(f"strata.kcat.consume.{s}",
                         lambda: self.kcat_consume(f"strata.kcat.consume.{s}", broker, proc, tk, size, n["kcat"]))
            if rnd == 0 and size == 100 and self.args.perf:
                self.attempt("perf", lambda: self.profile(broker, proc))
        finally:
            self.stop_server(proc)

    def latency(self):
        """Fixed-rate end-to-end latency; every measurement gets a fresh server, so a backlog one run leaves
        behind (acks=all at a rate the server cannot sustain) cannot slow the next one."""
        a = self.args
        print(f"latency at {a.latency_rate} msg/s (time left {self.time_left():.0f} s)", flush=True)
        plan = [(1, a.latency_rate, "acks1")] * a.latency_rounds + [(-1, a.latency_rate, "acksall")] * a.latency_rounds
        if a.latency_low_rate:
            plan.append((-1, a.latency_low_rate, "acksall.low"))
        for acks, rate, name in plan:
            def one(acks=acks, rate=rate, name=name):
                proc, broker = self.start_strata()
                try:
                    self.e2e(f"strata.e2e.{name}", broker, proc, acks, 100, rate)
                finally:
                    self.stop_server(proc)
            self.attempt(f"strata.e2e.{name}", one)

    def cleaning_latency(self):
        """Produce→ack and produce→consume p99 of acks=all at the latency rate while a background producer
        writes 1 KiB records under one key to a second topic, compacted (the cleaner works all the time:
        4 MiB segments, dirty ratio 0.01, checked every 100 ms) or not (cleanup.policy=delete, same load);
        the two modes alternate, a fresh server each run."""
        a = self.args
        if not a.cleaning_rounds:
            return
        print(f"latency while cleaning (time left {self.time_left():.0f} s)", flush=True)
        for rnd in range(a.cleaning_rounds):
            for policy in (("delete", "compact") if rnd % 2 == 0 else ("compact", "delete")):
                key = f"strata.cleaning.{policy}"

                def one(policy=policy, key=key):
                    proc, broker = self.start_strata(["--set", "log.retention.check.interval.ms=100"])
                    bg = None
                    try:
                        created = subprocess.run(
                            [os.path.join(a.tools, "create_topic"), broker, "bg", "1", f"cleanup.policy={policy}",
                             "segment.bytes=4194304", "min.cleanable.dirty.ratio=0.01", "delete.retention.ms=0",
                             "file.delete.delay.ms=0"], capture_output=True, text=True, timeout=60)
                        if created.returncode != 0:
                            raise RuntimeError(f"create_topic: {created.stderr.strip()}")
                        count = int(a.cleaning_bg_rate * (a.latency_seconds + 6))
                        bg = subprocess.Popen(
                            [a.rdkp, "-P", "-t", "bg", "-p", "0", "-b", broker, "-s", "1024", "-c", str(count),
                             "-r", str(a.cleaning_bg_rate), "-k", "same-key", "-a", "1",
                             "-X", "enable.idempotence=false", "-X", "linger.ms=5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                        self.procs.append(("rdkafka_performance bg", bg))
                        time.sleep(1.0)  # the background load and (compact) the cleaner are running
                        log_name = os.path.join(self.log_dir, f"strata-{self.counter}.log")
                        before = open(log_name).read().count("compacted") if os.path.exists(log_name) else 0
                        self.e2e(key, broker, proc, -1, 100)
                        after = open(log_name).read().count("compacted") if os.path.exists(log_name) else 0
                        self.results[key][-1]["compactions"] = after - before
                        if policy == "compact" and after - before == 0:
                            raise RuntimeError("the cleaner compacted nothing during the run")
                    finally:
                        if bg is not None:
                            if bg.poll() is None:
                                os.killpg(bg.pid, signal.SIGKILL)
                            bg.wait()
                            self.procs = [(n, p) for n, p in self.procs if p is not bg]
                        self.stop_server(proc)
                self.attempt(key, one)

    def profile(self, broker, proc):
        """perf record -g of the server during three extra runs; the top symbols by self time are kept."""
        if not shutil.which("perf"):
            self.notes.append("perf not installed: no profile")
            return
        runs = (
            ("100 B produce acks=1, rdkafka_performance", lambda: self.rdkp_produce(
                "perf.acks1.100", broker, proc, "perf-acks1-100", 100, self.counts(100)["fast"], 1)),
            ("1 KiB produce acks=1, rdkafka_performance", lambda: self.rdkp_produce(
                "perf.acks1.1024", broker, proc, "perf-acks1-1024", 1024, self.counts(1024)["fast"], 1)),
            (f"{self.args.latency_rate} msg/s acks=1, linger.ms=0 (one message per request)", lambda: self.e2e(
                "perf.e2e.acks1", broker, proc, 1, 100)),
        )
        for i, (label, run) in enumerate(runs):
            data = os.path.join(self.tmp, f"perf-{i}.data")
            rec = subprocess.Popen(["perf", "record", "-F", "1999", "-g", "-p", str(proc.pid), "-o", data],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            self.procs.append(("perf", rec))
            try:
                time.sleep(0.3)
                run()
            finally:
                rec.send_signal(signal.SIGINT)
                try:
                    rec.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(rec.pid, signal.SIGKILL)
                    rec.wait()
                self.procs = [(n, p) for n, p in self.procs if p is not rec]
            rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol",
                                  "--stdio", "-g", "none", "--percent-limit", "1.5"],
                                 capture_output=True, text=True, timeout=120)
            samples = re.search(r"# Samples: (\S+)", rep.stdout)
            lines = []
            for line in rep.stdout.splitlines():
                if line.strip() and not line.startswith("#"):
                    line = re.sub(r"(\s+-)+\s*$", "", line).rstrip()
                    lines.append(re.sub(r" {2,}", "  ", line.strip()))
            self.profiles[f"{label} ({samples.group(1) if samples else '?'} samples)"] = lines[:15]
            os.unlink(data)

    # ---------------------------------------------------------------- report

    def med(self, key, field="msgps"):
        vals = [r[field] for r in self.results.get(key, []) if r.get(field) is not None]
        return statistics.median(vals) if vals else None

    def n_rounds(self, key):
        return len(self.results.get(key, []))


def fmt_rate(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    return f"{v / 1e3:.0f} k" if v >= 1e4 else f"{v / 1e3:.1f} k"


def fmt(v, spec=".1f", unit=""):
    return "—" if v is None else f"{v:{spec}}{unit}"


def machine_line():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, {model}, {mem} RAM, {platform.system()} {platform.release()}"


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def report(b, load_start, load_end, started_at, elapsed):
    a = b.args
    L = []
    L.append(f"# Strata vs peers — {started_at} UTC")
    L.append("")
    L.append(f"Machine: {machine_line()}. Load average at start {load_start}, at end {load_end}. "
             f"Run took {elapsed:.0f} s, {a.rounds} rounds (figures are medians of the rounds), loopback only.")
    L.append(f"Versions: {versions()}.")
    L.append("")
    L.append("| workload | size | Strata (client) | msg/s | MB/s | p50 / p99 ms | server CPU % | peer | peer msg/s "
             "| peer MB/s | peer p50 / p99 ms | peer CPU % | Strata / peer |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def row(work, size, sk, client, pk, peer):
        sm, pm = b.med(sk), b.med(pk) if pk else None
        ratio = f"{sm / pm:.2f}×" if sm and pm else "—"

        def lat(k):
            p50, p99 = b.med(k, "p50_ms"), b.med(k, "p99_ms")
            return "—" if p50 is None else f"{p50:.2f} / {p99:.2f}"
        L.append(f"| {work} | {size} B | {client} | {fmt_rate(sm)} | {fmt(b.med(sk, 'MBps'))} | {lat(sk)} | "
                 f"{fmt(b.med(sk, 'cpu'), '.0f')} | {peer} | {fmt_rate(pm) if pk else '—'} | "
                 f"{fmt(b.med(pk, 'MBps')) if pk else '—'} | {lat(pk) if pk else '—'} | "
                 f"{fmt(b.med(pk, 'cpu'), '.0f') if pk else '—'} | {ratio} |")

    for size in SIZES:
        s = str(size)
        row("produce, page cache (acks=1)", size, f"strata.rdk.acks1.{s}", "rdkafka_performance",
            f"redis.xadd.{s}", "Redis XADD, no persistence")
        row("produce, page cache (acks=1)", size, f"strata.rdk.acks1.{s}", "rdkafka_performance",
            f"ceiling.rdk.{s}", "client ceiling: same producer into librdkafka's mock broker")
        row("produce, page cache (acks=1)", size, f"strata.kcat.acks1.{s}", "kcat", f"redis.xadd.{s}",
            "Redis XADD, no persistence")
        row("produce, fsync before ack (acks=all)", size, f"strata.rdk.acksall.{s}", "rdkafka_performance",
            f"redis.xadd_fsync.{s}", "Redis XADD, appendfsync always")
        row("consume from the start", size, f"strata.rdk.consume.{s}", "rdkafka_performance -C",
            f"redis.xrange.{s}", f"Redis XRANGE COUNT {a.xrange_count}, hiredis")
        row("consume from the start", size, f"strata.kcat.consume.{s}", "kcat -C", f"redis.xrange.{s}",
            f"Redis XRANGE COUNT {a.xrange_count}, hiredis")
    L.append("")
    L.append("Raw machine, same run:")
    L.append("")
    L.append("| baseline | result |")
    L.append("|---|---|")
    L.append(f"| sequential buffered `write` of {a.seqwrite_mib} MiB in 1 MiB chunks + one `fdatasync` | "
             f"{fmt(b.med('disk.seqwrite', 'MBps'), '.0f')} MB/s |")
    L.append(f"| 100 B append + `fdatasync`, one at a time ({a.fsync_count}×) | "
             f"{fmt_rate(b.med('disk.fdatasync'))}/s, p50 {fmt(b.med('disk.fdatasync', 'p50_ms'), '.3f')} ms, "
             f"p99 {fmt(b.med('disk.fdatasync', 'p99_ms'), '.3f')} ms |")
    L.append(f"| `memcpy` 256 MiB | {fmt(b.med('mem.memcpy', 'MBps'), '.0f')} MB/s |")
    L.append("")
    L.append(f"End-to-end latency at {a.latency_rate} msg/s, 100 B, one partition, linger.ms=0 "
             f"(`e2e_latency`: librdkafka producer + simple consumer in one process, {a.latency_seconds} s "
             f"× {a.latency_rounds}, a fresh server each time):")
    L.append("")
    L.append("| acks | achieved msg/s | produce→consume p50 / p99 / p99.9 ms | produce→ack p50 / p99 ms "
             "| server CPU % |")
    L.append("|---|---|---|---|---|")
    for name, label in (("acks1", "1"), ("acksall", "all"), ("acksall.low", f"all, at {a.latency_low_rate} msg/s")):
        k = f"strata.e2e.{name}"
        if not b.n_rounds(k):
            continue
        L.append(f"| {label} | {fmt_rate(b.med(k))} | {fmt(b.med(k, 'p50_ms'), '.3f')} / "
                 f"{fmt(b.med(k, 'p99_ms'), '.3f')} / {fmt(b.med(k, 'p999_ms'), '.3f')} | "
                 f"{fmt(b.med(k, 'ack_p50_ms'), '.3f')} / {fmt(b.med(k, 'ack_p99_ms'), '.3f')} | "
                 f"{fmt(b.med(k, 'cpu'), '.0f')} |")
    L.append("")
    L.append("Produce→consume is what a reader sees, produce→ack when the producer learns the message is "
             "stored (acks=all: after `fdatasync`). The producer sends each message as soon as it is due "
             "(linger.ms=0), so at this rate nearly every produce request carries one message.")
    L.append("")

    # Goals.
    L.append("Goals (issue 5 \"Speed\", issue 9 \"Targets\"):")
    L.append("")
    L.append("| issue | goal | measured | result |")
    L.append("|---|---|---|---|")

    def ratio_goal(issue, text, sk, pk, need):
        sm, pm = b.med(sk), b.med(pk)
        if sm is None or pm is None:
            L.append(f"| {issue} | {text} | not measured | MISS |")
            return
        r = sm / pm
        L.append(f"| {issue} | {text} | {fmt_rate(sm)} / {fmt_rate(pm)} = {r:.2f}× | "
                 f"{'PASS' if r >= need else 'MISS'} |")

    for size in SIZES:
        s = str(size)
        ratio_goal("#5", f"produce {size} B acks=1 ≥ 2× Redis XADD, no persistence",
                   f"strata.rdk.acks1.{s}", f"redis.xadd.{s}", 2.0)
        ratio_goal("#5", f"produce {size} B acks=all ≥ 2× Redis appendfsync always",
                   f"strata.rdk.acksall.{s}", f"redis.xadd_fsync.{s}", 2.0)
        ratio_goal("#5", f"consume {size} B ≥ 1.5× Redis XRANGE (C client)",
                   f"strata.rdk.consume.{s}", f"redis.xrange.{s}", 1.5)
    ratio_goal("#9", "produce 100 B, page cache ≥ 3× Redis XADD, no persistence",
               "strata.rdk.acks1.100", "redis.xadd.100", 3.0)
    v = b.med("strata.rdk.acks1.100")
    L.append(f"| #9 | same, ≈ 2 M msg/s (librdkafka client ceiling) | {fmt_rate(v)} msg/s | "
             f"{'PASS' if v and v >= 2e6 else 'MISS'} |")
    c = b.med("ceiling.rdk.100")
    if v and c:
        L.append(f"| (info) | same, against the client ceiling measured in this run (mock broker) | "
                 f"{fmt_rate(v)} / {fmt_rate(c)} = {100 * v / c:.0f} % | — |")
    ratio_goal("#9", "produce 100 B, fsync before ack ≥ 3× Redis appendfsync always",
               "strata.rdk.acksall.100", "redis.xadd_fsync.100", 3.0)
    disk = b.med("disk.seqwrite", "MBps")
    for key, label in (("strata.rdk.acks1.1024", "acks=1"), ("strata.rdk.acksall.1024", "acks=all")):
        sm = b.med(key, "MBps")
        if sm is None or disk is None:
            L.append(f"| #9 | produce 1 KiB ({label}) ≥ 80 % of raw disk write bandwidth | not measured | MISS |")
        else:
            L.append(f"| #9 | produce 1 KiB ({label}) ≥ 80 % of raw disk write bandwidth | "
                     f"{sm:.0f} / {disk:.0f} MB/s = {100 * sm / disk:.0f} % | "
                     f"{'PASS' if sm >= 0.8 * disk else 'MISS'} |")
    ratio_goal("#9", "consume 100 B ≥ 1.5× Redis XRANGE (C client)",
               "strata.rdk.consume.100", "redis.xrange.100", 1.5)
    p99 = b.med("strata.e2e.acks1", "p99_ms")
    L.append(f"| #9 | end-to-end p99 < 1 ms at {a.latency_rate} msg/s, acks=1 | "
             f"{fmt(p99, '.3f', ' ms')} | {'PASS' if p99 is not None and p99 < 1.0 else 'MISS'} |")
    p99all, fs = b.med("strata.e2e.acksall", "p99_ms"), b.med("disk.fdatasync", "p99_ms")
    ok = p99all is not None and fs is not None and p99all < 3 * fs
    L.append(f"| #9 | end-to-end p99 < 3× fdatasync p99 at {a.latency_rate} msg/s, acks=all | "
             f"{fmt(p99all, '.3f', ' ms')} vs 3 × {fmt(fs, '.3f', ' ms')} | {'PASS' if ok else 'MISS'} |")
    pack = b.med("strata.e2e.acksall", "ack_p99_ms")
    if pack is not None and fs is not None:
        L.append(f"| (info) | produce→ack p99 at {a.latency_rate} msg/s, acks=all, vs 3× fdatasync p99 | "
                 f"{pack:.3f} ms vs {3 * fs:.3f} ms | {'PASS' if pack < 3 * fs else 'MISS'} |")
    alone, busy = b.med("strata.cleaning.delete", "ack_p99_ms"), b.med("strata.cleaning.compact", "ack_p99_ms")
    if alone is not None and busy is not None:
        L.append(f"| #8 | produce→ack p99 (acks=all, {a.latency_rate} msg/s) while the cleaner compacts a "
                 f"{a.cleaning_bg_rate} msg/s × 1 KiB topic ≤ 2× the same load uncompacted | "
                 f"{busy:.3f} / {alone:.3f} ms = {busy / alone:.2f}× | {'PASS' if busy <= 2 * alone else 'MISS'} |")
        ea, eb = b.med("strata.cleaning.delete", "p99_ms"), b.med("strata.cleaning.compact", "p99_ms")
        L.append(f"| (info) | same, produce→consume p99 | {eb:.3f} / {ea:.3f} ms = {eb / ea:.2f}× | — |")
    else:
        L.append("| #8 | producer p99 during cleaning ≤ 2× without | not measured | MISS |")
    L.append("| #9 | StrataClient within 80 % of librdkafka | measured by `compare --clients` | — |")
    L.append("")
    L.append("Method: rdkafka_performance (librdkafka "
             f"{librdkafka_version(a.rdkp)}, built from Debian's example source) with its own settings "
             "(acks as stated, batch.size 1 MB, no compression, idempotence off) plus "
             f"`{' '.join(a.rdkp_extra) or '—'}` "
             "(rdkafka_performance sets linger.ms=1000, which would add a second to every run's last batch); "
             f"produce figures count delivered (acknowledged) messages. kcat figures are wall time of the whole "
             f"process (start-up and metadata included). redis-benchmark: {a.redis_conns} connections × "
             f"{a.redis_pipeline} pipelined `XADD s * v <payload>`; its p50/p99 are per pipelined request. "
             "Server CPU % is utime+stime of the server process over the client's wall time (100 % = one core; "
             "the machine has "
             f"{os.cpu_count()}). Every round starts each server on a fresh data directory.")
    if b.profiles:
        L.append("")
        L.append("Server profile (`perf record` of the server process during extra runs after round 1's "
                 "measured ones; self time by DSO and symbol, entries ≥ 1.5 %):")
        for topic, lines in b.profiles.items():
            L.append("")
            L.append(f"`{topic}`:")
            L.append("```")
            L.extend(lines)
            L.append("```")
    if b.notes:
        L.append("")
        L.append("Notes from this run:")
        for n in b.notes:
            L.append(f"- {n}")
    return "\n".join(L) + "\n"


def librdkafka_version(rdkp):
    try:
        out = subprocess.run([rdkp, "-h"], capture_output=True, text=True, timeout=10)
        m = re.search(r"librdkafka version (\S+)", out.stdout + out.stderr)
        return m.group(1) if m else "?"
    except Exception:
        return "?"


def versions():
    parts = []
    try:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"v=(\S+)", out)
        parts.append(f"Redis {m.group(1) if m else '?'}")
    except Exception:
        parts.append("Redis ?")
    try:
        out = subprocess.run(["kcat", "-V"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"Version (\S+)", out)
        parts.append(f"kcat {m.group(1) if m else '?'}")
    except Exception:
        parts.append("kcat ?")
    return ", ".join(parts)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strata", required=True)
    p.add_argument("--rdkp", required=True, help="rdkafka_performance binary")
    p.add_argument("--tools", required=True, help="directory with diskbase, xrange, e2e_latency")
    p.add_argument("--results", required=True, help="directory for the result markdown")
    p.add_argument("--tmp-dir", default=None, help="parent of the temporary data directories")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every message count")
    p.add_argument("--budget-seconds", type=float, default=540)
    p.add_argument("--redis-conns", type=int, default=50)
    p.add_argument("--redis-pipeline", type=int, default=100)
    p.add_argument("--xrange-count", type=int, default=1000)
    p.add_argument("--seqwrite-mib", type=int, default=512)
    p.add_argument("--fsync-count", type=int, default=1000)
    p.add_argument("--latency-rate", type=int, default=10000)
    p.add_argument("--latency-seconds", type=float, default=3)
    p.add_argument("--latency-rounds", type=int, default=2)
    p.add_argument("--latency-low-rate", type=int, default=1000,
                   help="one more acks=all latency run at this rate (0: none)")
    p.add_argument("--cleaning-rounds", type=int, default=2,
                   help="rounds of acks=all latency with the cleaner busy vs not (0: skip)")
    p.add_argument("--cleaning-bg-rate", type=int, default=10000,
                   help="msg/s of 1 KiB records the background producer writes during those runs")
    p.add_argument("--perf", action="store_true", help="profile the server with perf during 100 B produce")
    p.add_argument("--rdkp-extra", default="-X linger.ms=5", help="extra rdkafka_performance producer arguments")
    p.add_argument("--rdkp-consume-extra", default="", help="extra rdkafka_performance consumer arguments")
    args = p.parse_args()
    args.rdkp_extra = args.rdkp_extra.split()
    args.rdkp_consume_extra = args.rdkp_consume_extra.split()

    b = Bench(args)
    b.profiles = {}

    def on_signal(sig, frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load_start = loadavg()
    print(f"machine: {machine_line()}; load average {load_start}", flush=True)
    t0 = time.monotonic()
    try:
        for rnd in range(args.rounds):
            try:
                b.round(rnd)
            except Deadline as e:
                b.notes.append(f"stopped after {rnd} full rounds: {e}")
                break
        try:
            b.latency()
        except Deadline as e:
            b.notes.append(f"latency not measured: {e}")
        try:
            b.cleaning_latency()
        except Deadline as e:
            b.notes.append(f"latency while cleaning not measured: {e}")
    except KeyboardInterrupt:
        print("interrupted: stopping servers, removing data", file=sys.stderr)
        b.close()
        return 130
    finally:
        b.close()
    text = report(b, load_start, loadavg(), started_at, time.monotonic() - t0)
    os.makedirs(args.results, exist_ok=True)
    name = os.path.join(args.results, f"peers-{started_at.replace(' ', 'T').replace(':', '')}.md")
    with open(name, "w") as f:
        f.write(text)
    with open(os.path.join(args.results, "raw-" + os.path.basename(name)[:-3] + ".json"), "w") as f:
        json.dump({"results": b.results, "notes": b.notes}, f, indent=1)
    print()
    print(text)
    print(f"written to {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
