#!/usr/bin/env python3
"""broker_report.py - renders the key=value results of tests/bench/broker.sh
as the markdown tables of build/bench-broker.md (stdout)."""
import sys

R = {}
with open(sys.argv[1]) as f:
    for line in f:
        k, sep, v = line.rstrip("\n").partition("=")
        if sep:
            R[k] = v.strip()

BROKERS = [("brook", "brookd"), ("kafka", "Kafka 4.0"),
           ("kafkaflush", "Kafka 4.0, flush every message")]


def num(key):
    try:
        return float(R[key])
    except (KeyError, ValueError):
        return None


tcp = max([x for x in (num("tcp_start"), num("tcp_end")) if x] or [0]) or None
out = []
p = out.append

p(f"Measured {R.get('date', '?')} on {R.get('ncpu', '?')} cores ({R.get('cpu', '?')}), "
  "shared with other work: single figures move by up to a third between runs; "
  "the ratios to the loopback limit of the same run are what to read. "
  f"Load average (1/5/15 min) at the start: {R.get('load_start', '?')}, at the end: "
  f"{R.get('load_end', '?')}.")
p("")
p("Machine limits in this run:")
p("")
p("| limit | MB/s |")
p("| --- | ---: |")
p(f"| loopback TCP, 1 MiB writes between two processes (start / end of run; the higher is used) "
  f"| {R.get('tcp_start', '?')} / {R.get('tcp_end', '?')} |")
p(f"| disk: sequential 1 MiB writes + fdatasync (dd conv=fdatasync) | {R.get('disk_seq', '?')} |")
p(f"| disk: 64 KiB writes, fdatasync after each | {R.get('disk_sync64k', '?')} |")
p("")


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if not n else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)


def fmt_or(x, fmt="{:.0f}"):
    return fmt.format(x) if x is not None else "n/a"


def per_lo(x):
    return f"{x / tcp:.2f}" if x is not None and tcp else ""


def idempotence_report():
    """BENCH mode idempotence (broker.sh BUILD idempotence): on / off pairs."""
    reps = int(R.get("reps", "0") or 0)
    tck = float(R.get("clk_tck", "100") or 100)
    # key, label, the run compared against (0: idempotence off; 2: off with
    # librdkafka's max.in.flight.requests.per.connection=5), on (1)
    loads = [
        ("p1a1", "loadgen acks=1, 1 partition", 0),
        ("p16a1", "loadgen acks=1, 16 partitions", 0),
        ("p1aall", "loadgen acks=-1, 1 partition", 0),
        ("p16aall", "loadgen acks=-1, 16 partitions", 0),
        ("rdk1", "librdkafka acks=all, 1 partition", 0),
        ("rdk16", "librdkafka acks=all, 16 partitions", 0),
        ("rdk1", "librdkafka acks=all, 1 partition, off with 5 in flight", 2),
        ("rdk16", "librdkafka acks=all, 16 partitions, off with 5 in flight", 2),
    ]
    p(f"Produce throughput with idempotence on against off, {reps} repetitions of "
      f"{R.get('secs', '?')} s per load and mode, the order of off and on alternating between "
      "repetitions; each broker alone. MB/s are medians over the repetitions (\"/ lo\": "
      "ratio to the loopback limit); on / off is the median of the per-repetition ratios, "
      "with their range; CPU is the broker's utime + stime per GB acknowledged, median, "
      "off / on. librdkafka with idempotence keeps at most 5 requests in flight per "
      "connection (off: up to 10^6), so its rows \"off with 5 in flight\" compare on with an "
      "off run capped alike: what the broker's sequence checks cost, apart from the client's "
      "cap. Goal (issue 5): on >= 95% of off on brookd; Kafka (default flushing: "
      "acks=-1 does not fsync there) for context.")
    p("")
    p("| broker | load | off MB/s | / lo | on MB/s | / lo | on / off | range | CPU s/GB off / on | goal >= 0.95 |")
    p("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |")
    for b, bname in (("brook", "brookd"), ("kafka", "Kafka 4.0")):
        if f"{b}.missing" in R:
            p(f"| {bname} | {R[b + '.missing']} | | | | | | | | |")
            continue
        for key, label, off in loads:
            if not any(k.startswith(f"{b}.idem.{key}.") for k in R):
                continue  # not run (BENCH_IDEM_LOADS)
            mb = {off: [], 1: []}
            cpu = {off: [], 1: []}
            ratios, errs = [], []
            for r in range(1, reps + 1):
                v = {}
                for x in (off, 1):
                    k = f"{b}.idem.{key}.{x}.{r}"
                    m = num(k + ".mbps")
                    if f"{k}.err" in R or m is None or not m:
                        errs.append(f"{'on' if x == 1 else 'off'} #{r}: "
                                    + (R.get(k + ".err") or "no result").strip())
                        continue
                    v[x] = m
                    mb[x].append(m)
                    t, by = num(k + ".cpu"), num(k + ".bytes")
                    if t is not None and by:
                        cpu[x].append(t / tck / (by / 1e9))
                if off in v and 1 in v:
                    ratios.append(v[1] / v[off])
            mo, mi, rm = median(mb[off]), median(mb[1]), median(ratios)
            co, ci = median(cpu[off]), median(cpu[1])
            rng = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else ""
            g = ""
            if b == "brook" and rm is not None:
                g = "met" if rm >= 0.95 else "**missed**"
                if min(ratios) < 0.95 <= max(ratios):
                    g += " (range spans 0.95)"
            if errs:
                g += f" ({len(errs)} failed: {errs[0][:100]})"
            p(f"| {bname} | {label} | {fmt_or(mo)} | {per_lo(mo)} | {fmt_or(mi)} | {per_lo(mi)} | "
              f"{fmt_or(rm, '{:.2f}')} | {rng} | {fmt_or(co, '{:.1f}')} / {fmt_or(ci, '{:.1f}')} | {g} |")
    p("")
    if R.get("brook.problems") not in (None, "", "0"):
        p(f"brookd logged {R['brook.problems']} ERROR/FATAL line(s) during these loads.")


if R.get("mode") == "idempotence":
    idempotence_report()
    print("\n".join(out))
    sys.exit(0)


def cell(b, key, field="mbps", ratio=True, fmt="{:.0f}"):
    """A throughput cell: value and ratio to loopback, or the reason it is missing."""
    if f"{b}.missing" in R:
        return "n/a", ""
    v = num(f"{b}.{key}.{field}")
    err = R.get(f"{b}.{key}.err")
    if v is None:
        return ("FAILED: " + err if err else "n/a"), ""
    s = fmt.format(v)
    if err:
        s += f" (errors: {err})"
    if key.startswith("cons") and R.get(f"{b}.{key}.reached_end") == "0":
        s += " (end not reached)"
    return s, (f"{v / tcp:.2f}" if ratio and tcp else "")


def like(key):
    """The like-for-like Kafka column: fsync before ack for acks=-1."""
    return "kafkaflush" if key in ("p1aall", "p16aall", "latall", "rdkall", "javaall") else "kafka"


def compare(key, field="mbps", lower_better=False):
    a = num(f"brook.{key}.{field}")
    k = like(key)
    c = num(f"{k}.{key}.{field}")
    if a is None or c is None or c == 0 or a == 0:
        return "", ""
    r = a / c
    ahead = (a < c) if lower_better else (a > c)
    return f"{r:.2f}", ("yes" if ahead else "**no**")


p("Loads (MB/s are 10^6 bytes of record batches, or of values for librdkafka and "
  "Kafka's tools; ratios are to the loopback limit; \"vs Kafka\" is brookd / Kafka, "
  "against the Kafka column with the same durability: flush every message for acks=-1/all, "
  "default flushing otherwise):")
p("")
hdr = "| load | " + " | ".join(f"{n} | ratio" for _, n in BROKERS) + " | vs Kafka | brook ahead |"
p(hdr)
p("|" + " --- |" + " ---: | ---: |" * len(BROKERS) + " ---: | --- |")

SECS = R.get("secs", "5")
rows = [
    ("p1a1", f"loadgen produce acks=1, 1 partition ({SECS} s)"),
    ("p16a1", "loadgen produce acks=1, 16 partitions"),
    ("p1aall", "loadgen produce acks=-1, 1 partition"),
    ("p16aall", "loadgen produce acks=-1, 16 partitions"),
    ("cons1", "loadgen consume, 1 partition, 256 MiB from offset 0 to the end"),
    ("cons16", "loadgen consume, 16 partitions, 256 MiB from offset 0 to the end"),
    ("rdk1", "librdkafka produce acks=1, 16 partitions"),
    ("rdkall", "librdkafka produce acks=all, 16 partitions"),
    ("rdkcons", "librdkafka consume (no group), 16 partitions"),
    ("java1", "Java ProducerPerformance acks=1, 16 partitions"),
    ("javaall", "Java ProducerPerformance acks=all, 16 partitions"),
    ("javacons", "Java ConsumerPerformance, 16 partitions (fetch rate, group join excluded)"),
]
for key, label in rows:
    cells = []
    for b, _ in BROKERS:
        if b == "brook" and key == "javacons" and num("brook.javacons.mbps") is None:
            cells += ["n/a: needs consumer groups (issue 5)", ""]
            continue
        cells += list(cell(b, key))
    cells += list(compare(key))
    p(f"| {label} | " + " | ".join(cells) + " |")

for key, rate, label in (("lat1", "rate1", "acks=1"), ("latall", "rateall", "acks=-1")):
    for field, name in (("lat_p50_ms", "p50"), ("lat_p99_ms", "p99"), ("lat_p999_ms", "p99.9")):
        cells = []
        for b, _ in BROKERS:
            v, _r = cell(b, key, field, ratio=False, fmt="{:.2f} ms")
            cells += [v, ""]
        cells += list(compare(key, field, lower_better=True))
        n = R.get(f"brook.{key}.requests", "?")
        p(f"| loadgen latency {label}, 1 partition, {R.get(rate, '?')} MB/s "
          f"({n} requests to brookd), {name} | "
          + " | ".join(cells) + " |")

for key, label in (("java1", "acks=1"), ("javaall", "acks=all")):
    cells = []
    for b, _ in BROKERS:
        v = num(f"{b}.{key}.p99")
        cells += [f"{v:.0f} ms" if v is not None else "n/a", ""]
    cells += list(compare(key, "p99", lower_better=True))
    p(f"| Java ProducerPerformance {label} p99 (full speed, batching included) | "
      + " | ".join(cells) + " |")

for field, label in (("rss", "RSS after the loads (VmRSS)"), ("hwm", "peak RSS (VmHWM)")):
    cells = []
    for b, _ in BROKERS:
        v = num(f"{b}.{field}")
        cells += [f"{v / 1024:.1f} MiB" if v is not None else "n/a", ""]
    a, c = num(f"brook.{field}"), num(f"kafka.{field}")
    cells += [f"{a / c:.2f}" if a and c else "", ("yes" if a < c else "**no**") if a and c else ""]
    p(f"| {label} | " + " | ".join(cells) + " |")

p("")
p("Kafka runs with tests/tools/kafka.sh's JVM settings (-Xms128m -Xmx512m, G1); its "
  "Java clients with enable.idempotence=false, like every load here (make bench-idempotence "
  "compares on and off); "
  "Kafka's tools use the producer's default batching (batch.size 16 KiB, linger.ms 5).")
for b, _ in BROKERS:
    if f"{b}.missing" in R:
        p(f"{b}: {R[b + '.missing']}")
p("")
p("brookd alone:")
p("")
p("| figure | value | goal |")
p("| --- | ---: | --- |")
irss, trss = num("idle_rss"), num("idle_rss_topic")


def goal(v, limit, unit):
    if v is None:
        return "n/a"
    return ("met" if v <= limit else "MISSED") + f" (<= {limit} {unit})"


p(f"| idle RSS, just started, no topics | "
  f"{irss / 1024:.1f} MiB | {goal(irss / 1024, 16, 'MiB')} |" if irss else "| idle RSS | n/a | |")
p(f"| idle RSS, one topic ({R.get('idle_topic_parts', '?')} partition) | "
  f"{trss / 1024:.1f} MiB | {goal(trss / 1024, 16, 'MiB')} |" if trss else "| idle RSS, one topic | n/a | |")
rl, ra = num("ready_log_ms"), num("ready_api_ms")
p(f"| exec to \"ready\" log line, empty data dir, median of 5 | "
  f"{rl:.0f} ms | {goal(rl, 100, 'ms')} |" if rl is not None else "| exec to ready | n/a | |")
p(f"| exec to first ApiVersions answer, median of 5 | "
  f"{ra:.0f} ms | {goal(ra, 100, 'ms')} |" if ra is not None else "| exec to ApiVersions | n/a | |")
p(f"\nThe five starts (log line / ApiVersions, ms): {R.get('ready_runs', '?')}.")
p("")

# Goals of the issue.
p("Goals:")
p("")


def ratio_of(key):
    v = num(f"brook.{key}.mbps")
    return v / tcp if v is not None and tcp else None


for keys, lim, label in ((("p1a1", "p16a1"), 0.40, "produce acks=1 >= 40% of loopback"),
                         (("cons1", "cons16"), 0.60, "consume >= 60% of loopback")):
    rs = [(k, ratio_of(k)) for k in keys]
    ok = all(r is not None and r >= lim for _, r in rs)
    p(f"- {label}: {'met' if ok else 'MISSED'} ("
      + ", ".join(f"{k} {r:.2f}" if r is not None else f"{k} n/a" for k, r in rs) + ")")
behind = [line.split(" | ")[0].lstrip("| ") for line in out if line.endswith("| **no** |")]
p(f"- ahead of Kafka on every figure: {'met' if not behind else 'MISSED'}"
  + (f" (behind on: {', '.join(behind)})" if behind else ""))
p(f"- idle RSS <= 16 MiB: {goal(max(irss or 0, trss or 0) / 1024 if irss else None, 16, 'MiB')}")
p(f"- start to ready <= 100 ms: {goal(ra if ra is not None else rl, 100, 'ms')}")
print("\n".join(out))
