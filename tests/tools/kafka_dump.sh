#!/usr/bin/env bash
# kafka_dump.sh: check a partition's files with Apache Kafka 4.0's own code
# (kafka.tools.DumpLogSegments from the kafka_2.13 jar, and Kafka's checkpoint
# readers), for brook's storage/ tests.
#
#   tests/tools/kafka_dump.sh check [--index-interval N] [--allow-gaps] [--quiet] PATH...
#   tests/tools/kafka_dump.sh dump [DUMPLOGSEGMENTS-OPTION...] FILE...
#   tests/tools/kafka_dump.sh batches FILE.log
#   tests/tools/kafka_dump.sh table FILE.log...
#
# PATH is a file or a partition directory (<topic>-<partition>/, whose files
# are all taken). Files are recognised by name: *.log, *.index, *.timeindex,
# *.txnindex, *.snapshot go to DumpLogSegments; leader-epoch-checkpoint,
# partition.metadata, *-checkpoint (recovery-point-offset-, log-start-offset-,
# replication-offset-, cleaner-offset-), .kafka_cleanshutdown and
# meta.properties are read with Kafka's own reader classes.
#
# check    Runs DumpLogSegments three times over the segment files:
#            --deep-iteration          (every batch and record; index and
#                                       time index entries are verified
#                                       against the .log as they are printed)
#            --index-sanity-check      (OffsetIndex/TimeIndex.sanityCheck:
#                                       sizes, last entry vs first/base)
#            --verify-index-only       (index entries against the .log)
#          and fails (exit 1) with the complaining lines when Kafka reports
#          anything. DumpLogSegments exits 0 after most problems, so its output
#          is parsed: "isvalid: false" (CRC-32C), "Found N invalid bytes at the
#          end", "Mismatches in", "Found timestamp mismatch", "Found out of
#          order timestamp", "indexed offsets are not found in the log",
#          "Non-consecutive offsets", an exception, and any other line on its
#          stderr. When it dies on a file it is run again on the files after it.
#          On top of Kafka's checks, from the entries Kafka printed (lines
#          marked "kafka_dump:"): index and time index entries strictly
#          increasing; every slot of the file read (a zero slot stops Kafka's
#          reader: untrimmed, preallocated space); index positions at batch
#          starts; the segment's largest timestamp as the last time index entry
#          (Kafka appends it when it rolls or closes a segment); magic 2;
#          batch max timestamp = largest record timestamp (CreateTime);
#          record count = header count; offsets contiguous from the file's base
#          offset across batches and segments; the leader-epoch-checkpoint
#          agreeing with the batches' partitionLeaderEpoch; 20-digit names and
#          the .index/.timeindex beside each .log.
#          --index-interval N  also require exactly the index and time index
#                      entries Kafka writes with index.interval.bytes=N when
#                      the segment is written in one broker run (Kafka starts
#                      counting bytes again when it reopens a segment).
#          --allow-gaps  offsets may skip (a compacted log): no complaint for
#                      offsets that jump forward, a base offset below the first
#                      batch, or count != lastOffset - baseOffset + 1 (offsets
#                      going back still fail).
#          --quiet     print nothing when all is well.
# dump     DumpLogSegments --deep-iteration over FILE... (extra options such
#          as --print-data-log are passed through), raw output.
# batches  One line per batch of FILE.log, from DumpLogSegments (shallow):
#            baseOffset lastOffset count crc_valid codec
#          crc_valid is true or false, codec none|gzip|snappy|lz4|zstd.
# table    Tab-separated table with a header line, one row per batch of each
#          FILE.log (deep iteration, so control records are decoded):
#            segment base_offset last_offset count position size magic codec
#            crc_valid timestamp_type max_timestamp producer_id producer_epoch
#            base_sequence last_sequence partition_leader_epoch
#            is_transactional is_control control_type
#
# Exit status: 0 ok, 1 problems found (check) or the tool failed, 2 usage,
# 77 skipped ("SKIPPED: <reason>" on stdout) when java is missing, or the
# Kafka jars are not installed and Maven cannot fetch them.
# Jars: .cache/kafka-4.0.0/libs from `tests/tools/kafka.sh install`, run here
# when missing (bounded by KAFKA_DUMP_INSTALL_TIMEOUT_S, default 900).
# Every java run is bounded by KAFKA_DUMP_TIMEOUT_S (default 300).
# Needs: java 17, python3; mvn only to install.

KD_TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kafka.sh
source "$KD_TOOLS_DIR/kafka.sh"

set -uo pipefail

kd_help() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
kd_usage() { kd_help >&2; exit 2; }
kd_skip() { echo "SKIPPED: $*"; exit 77; }

cmd=${1:-}
shift || true
case $cmd in
    check | dump | batches | table) ;;
    -h | --help | help) kd_help; exit 0 ;;
    *) kd_usage ;;
esac
(($#)) || kd_usage

command -v java >/dev/null || kd_skip "java not found (apt-get install -y openjdk-17-jdk-headless)"
command -v python3 >/dev/null || kd_skip "python3 not found"
kd_jar="$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar"
if command -v mvn >/dev/null; then
    # Cheap when already installed (kafka.sh compares a stamp of the pom).
    if ! timeout "${KAFKA_DUMP_INSTALL_TIMEOUT_S:-900}" "$KD_TOOLS_DIR/kafka.sh" install >&2; then
        [[ -f $kd_jar ]] || kd_skip "could not install the Kafka $KAFKA_VERSION jars with Maven (no access to Maven Central?)"
        echo "kafka_dump.sh: Maven failed; using the jars already in ${KAFKA_LIBS#"$KAFKA_REPO_ROOT"/}" >&2
    fi
elif [[ ! -f $kd_jar ]]; then
    kd_skip "mvn not found and the Kafka jars are not installed (apt-get install -y maven)"
fi
[[ -f $kd_jar ]] || kd_skip "no $kd_jar after install"

KD_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kafka_dump.XXXXXX")
trap 'rm -rf "$KD_TMP"' EXIT

# Kafka's classes log through log4j2: warnings and errors go to stderr,
# where the checker sees them.
cat >"$KD_TMP/log4j2.properties" <<'EOF'
status = error
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = log4j %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
EOF

# Reads the non-segment files with Kafka's own classes (run with the java
# source launcher, so nothing is built). One output line per fact:
#   ENTRY <tab> file <tab> kind <tab> fields...   what Kafka read
#   PROBLEM <tab> file <tab> message               what Kafka refused
cat >"$KD_TMP/KafkaFileCheck.java" <<'EOF'
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.TreeMap;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.metadata.properties.MetaProperties;
import org.apache.kafka.storage.internals.checkpoint.CleanShutdownFileHandler;
import org.apache.kafka.storage.internals.checkpoint.LeaderEpochCheckpointFile;
import org.apache.kafka.storage.internals.checkpoint.OffsetCheckpointFile;
import org.apache.kafka.storage.internals.checkpoint.PartitionMetadata;
import org.apache.kafka.storage.internals.checkpoint.PartitionMetadataFile;
import org.apache.kafka.storage.internals.epoch.LeaderEpochFileCache;
import org.apache.kafka.storage.internals.log.EpochEntry;
import org.apache.kafka.storage.internals.log.LogDirFailureChannel;

public class KafkaFileCheck {
    static int problems = 0;

    static void out(String... fields) {
        System.out.println(String.join("\t", fields));
    }

    static void problem(File f, String msg) {
        out("PROBLEM", f.getPath(), msg.replace('\n', ' '));
        problems++;
    }

    public static void main(String[] args) {
        for (String arg : args) {
            File f = new File(arg).getAbsoluteFile();
            try {
                if (!f.isFile())
                    problem(f, "not a regular file");
                else
                    check(f);
            } catch (Throwable t) {
                problem(f, "Kafka could not read it: " + t);
            }
        }
        System.exit(problems == 0 ? 0 : 1);
    }

    static void check(File f) throws Exception {
        String name = f.getName();
        LogDirFailureChannel channel = new LogDirFailureChannel(1);
        if (name.equals("leader-epoch-checkpoint")) {
            LeaderEpochCheckpointFile file = new LeaderEpochCheckpointFile(f, channel);
            List<EpochEntry> read = file.read();
            for (EpochEntry e : read)
                out("ENTRY", f.getPath(), "epoch", Integer.toString(e.epoch), Long.toString(e.startOffset));
            // Loading the cache applies Kafka's rules (epochs and start
            // offsets both increasing, none negative); it keeps what passes.
            List<EpochEntry> kept = new LeaderEpochFileCache(new TopicPartition("check", 0), file, null).epochEntries();
            if (!kept.equals(read))
                problem(f, "Kafka's LeaderEpochFileCache keeps " + kept + " of the " + read.size()
                    + " entries " + read + " (epochs and start offsets must both increase)");
        } else if (name.equals("partition.metadata")) {
            PartitionMetadata md = new PartitionMetadataFile(f, channel).read();
            out("ENTRY", f.getPath(), "partition.metadata", Integer.toString(md.version()), md.topicId().toString());
        } else if (name.endsWith("-checkpoint")) {
            Map<TopicPartition, Long> m = new OffsetCheckpointFile(f, channel).read();
            Map<String, Long> sorted = new TreeMap<>();
            m.forEach((tp, off) -> sorted.put(tp.toString(), off));
            sorted.forEach((tp, off) -> out("ENTRY", f.getPath(), "offset", tp, Long.toString(off)));
            if (m.isEmpty())
                out("ENTRY", f.getPath(), "offset-none");
        } else if (name.equals(CleanShutdownFileHandler.CLEAN_SHUTDOWN_FILE_NAME)) {
            OptionalLong epoch = new CleanShutdownFileHandler(f.getParent()).read();
            String text = new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8);
            if (epoch.isPresent())
                out("ENTRY", f.getPath(), "broker-epoch", Long.toString(epoch.getAsLong()));
            else
                problem(f, "Kafka 4.0 reads no broker epoch from it (content '" + text
                    + "'; it writes {\"version\":0,\"brokerEpoch\":N}); the file still marks a clean shutdown");
        } else if (name.equals("meta.properties")) {
            Properties props = new Properties();
            try (InputStream in = new FileInputStream(f)) {
                props.load(in);
            }
            MetaProperties mp = new MetaProperties.Builder(props).build();
            out("ENTRY", f.getPath(), "meta.properties", mp.toString());
        } else {
            problem(f, "not a file this checker knows");
        }
    }
}
EOF

export KD_JAVA=java KD_LIBS="$KAFKA_LIBS" KD_TMP KD_CACHE="$KAFKA_CACHE_DIR"
python3 - "$cmd" "$@" <<'PYEOF'
import hashlib, os, re, shutil, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

JAVA = os.environ["KD_JAVA"]
LIBS = os.environ["KD_LIBS"]
TMP = os.environ["KD_TMP"]
CACHE = os.environ["KD_CACHE"]
TIMEOUT = int(os.environ.get("KAFKA_DUMP_TIMEOUT_S", "300"))
HEAP = os.environ.get("KAFKA_DUMP_HEAP", "512m")
CWD = os.getcwd() + "/"
INT_MAX = 2**31 - 1

SEGMENT_SUFFIXES = (".log", ".index", ".timeindex", ".txnindex", ".snapshot")
OTHER_NAMES = ("leader-epoch-checkpoint", "partition.metadata", ".kafka_cleanshutdown", "meta.properties")
SEGMENT_NAME = re.compile(r"^(\d{20})\.(log|index|timeindex|txnindex|snapshot)$")

def rel(path):
    return path[len(CWD):] if path.startswith(CWD) else path

def die(msg, code=2):
    print("kafka_dump.sh: " + msg, file=sys.stderr)
    sys.exit(code)

def java(main_args, classes=None):
    cp = os.path.join(LIBS, "*")
    if classes:
        cp = classes + os.pathsep + cp
    cmd = [JAVA, "-Xmx" + HEAP, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-Dlog4j2.configurationFile=" + os.path.join(TMP, "log4j2.properties"),
           "-cp", cp] + main_args
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT, universal_newlines=True, errors="replace")
    except subprocess.TimeoutExpired:
        return None, "", "java timed out after %ds (KAFKA_DUMP_TIMEOUT_S)" % TIMEOUT
    return p.returncode, p.stdout, p.stderr

def file_check_cmd():
    """How to run KafkaFileCheck.java: compiled once into .cache (keyed by a
    hash of its source), or through the java source launcher without javac."""
    src = os.path.join(TMP, "KafkaFileCheck.java")
    digest = hashlib.sha256(open(src, "rb").read() + LIBS.encode()).hexdigest()[:16]
    classes = os.path.join(CACHE, "kafka_dump-classes-" + digest)
    if not os.path.isfile(os.path.join(classes, "KafkaFileCheck.class")) and shutil.which("javac"):
        tmp = tempfile.mkdtemp(dir=TMP)
        try:
            p = subprocess.run(["javac", "-nowarn", "-cp", os.path.join(LIBS, "*"), "-d", tmp, src],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT,
                               universal_newlines=True)
            if p.returncode == 0:
                os.makedirs(CACHE, exist_ok=True)
                shutil.rmtree(classes, ignore_errors=True)
                os.rename(tmp, classes)
        except (subprocess.TimeoutExpired, OSError):
            pass
    if os.path.isfile(os.path.join(classes, "KafkaFileCheck.class")):
        return ["KafkaFileCheck"], classes
    return [src], None

def run_file_check(files):
    main, classes = file_check_cmd()
    return java(main + files, classes)

def jvm_noise(line):
    return line.startswith("OpenJDK 64-Bit Server VM warning") or not line.strip()

# ---------------------------------------------------------------- DumpLogSegments

class Run:
    """One DumpLogSegments pass over many files; restarted after a file that
    made it die. sections[path] = stdout lines of that file; errors = list of
    (path or None, [stderr lines])."""
    def __init__(self, flags, files):
        self.flags = flags
        self.sections = {}
        self.errors = []
        remaining = list(files)
        while remaining:
            rc, out, err = java(["kafka.tools.DumpLogSegments"] + flags + ["--files", ",".join(remaining)])
            current, done = None, []
            for line in out.splitlines():
                if line.startswith("Dumping "):
                    current = line[len("Dumping "):]
                    self.sections.setdefault(current, [])
                    done.append(current)
                elif current is not None:
                    self.sections[current].append(line)
                elif line.strip():
                    self.errors.append((None, [line]))
            errlines = [l for l in err.splitlines() if not jvm_noise(l)]
            if rc == 0:
                if errlines:
                    self.errors.append((None, errlines))
                break
            # The tool died (an exception, or the timeout): blame the file it
            # was on, and go on with the ones after it.
            last = done[-1] if done else None
            self.errors.append((last, errlines or ["DumpLogSegments exited with status %s" % rc]))
            if last is None or last not in remaining:
                for f in remaining:
                    self.sections.setdefault(f, None)
                break
            remaining = remaining[remaining.index(last) + 1:]

def exception_summary(lines):
    """An exception's message lines and its first frame, not the whole trace."""
    keep, frames = [], 0
    for l in lines:
        if l.startswith("\tat "):
            frames += 1
            if frames <= 1:
                keep.append(l)
        elif l.startswith("\t..."):
            continue
        else:
            frames = 0
            keep.append(l)
    return keep

BATCH_RE = re.compile(
    r"^baseOffset: (-?\d+) lastOffset: (-?\d+) count: (\S+) baseSequence: (-?\d+) lastSequence: (-?\d+) "
    r"producerId: (-?\d+) producerEpoch: (-?\d+) partitionLeaderEpoch: (-?\d+) isTransactional: (\w+) "
    r"isControl: (\w+) deleteHorizonMs: (\S+) position: (\d+) (\w+): (-?\d+) size: (\d+) magic: (\d+) "
    r"compresscodec: (\w+) crc: (\d+) isvalid: (\w+)$")
LEGACY_RE = re.compile(r"^offset: (-?\d+) position: (\d+) (\w+): (-?\d+) size: (\d+) magic: (\d+) "
                       r"compresscodec: (\w+) crc: (\d+) isvalid: (\w+)$")
RECORD_RE = re.compile(r"^\| offset: (-?\d+) (\w+): (-?\d+) keySize: (-?\d+) valueSize: (-?\d+)(.*)$")
INDEX_RE = re.compile(r"^offset: (-?\d+) position: (-?\d+)$")
TIMEINDEX_RE = re.compile(r"^timestamp: (-?\d+) offset: (-?\d+)$")
INVALID_RE = re.compile(r"^Found (\d+) invalid bytes at the end of (.*)$")
MARKER_RE = re.compile(r"endTxnMarker: (\w+) coordinatorEpoch: (-?\d+)")
CONTROL_RE = re.compile(r"controlType: (\S+)")

class Batch:
    pass

def parse_log(lines):
    """Batches of a .log section, with their records (deep) if printed, and
    lines not understood."""
    batches, unknown, invalid_bytes = [], [], None
    for line in lines:
        m = BATCH_RE.match(line)
        if m:
            b = Batch()
            (b.base, b.last, b.count, b.base_seq, b.last_seq, b.pid, b.pepoch, b.epoch, b.txn, b.control,
             _, b.pos, b.ts_type, b.max_ts, b.size, b.magic, b.codec, b.crc, b.valid) = m.groups()
            for k in ("base", "last", "base_seq", "last_seq", "pid", "pepoch", "epoch", "pos", "max_ts", "size", "magic", "crc"):
                setattr(b, k, int(getattr(b, k)))
            b.count = None if b.count == "null" else int(b.count)
            b.txn, b.control, b.valid = b.txn == "true", b.control == "true", b.valid == "true"
            b.records, b.control_type = [], ""
            batches.append(b)
            continue
        m = LEGACY_RE.match(line)
        if m:
            b = Batch()
            b.last, b.pos, b.ts_type, b.max_ts, b.size, b.magic, b.codec, b.crc, b.valid = m.groups()
            b.base = b.last = int(b.last)
            b.pos, b.max_ts, b.size, b.magic, b.crc = int(b.pos), int(b.max_ts), int(b.size), int(b.magic), int(b.crc)
            b.valid = b.valid == "true"
            b.count, b.base_seq, b.last_seq, b.pid, b.pepoch, b.epoch = None, -1, -1, -1, -1, -1
            b.txn = b.control = False
            b.records, b.control_type = [], ""
            batches.append(b)
            continue
        m = RECORD_RE.match(line)
        if m and batches:
            batches[-1].records.append((int(m.group(1)), m.group(2), int(m.group(3))))
            mm = MARKER_RE.search(m.group(6)) or CONTROL_RE.search(m.group(6))
            if mm and batches[-1].control and not batches[-1].control_type:
                batches[-1].control_type = mm.group(1)
            continue
        m = INVALID_RE.match(line)
        if m:
            invalid_bytes = int(m.group(1))
            continue
        if line.startswith("Log starting offset: "):
            continue
        unknown.append(line)
    return batches, unknown, invalid_bytes

def base_of(path):
    m = re.match(r"^(\d+)\.", os.path.basename(path))
    return int(m.group(1)) if m else None

def sibling(path, suffix):
    d, n = os.path.split(path)
    return os.path.join(d, n.split(".")[0] + suffix)

# ---------------------------------------------------------------- file lists

def expand(paths):
    """-> (segment files, other files, partition dirs, naming problems)."""
    seg, other, dirs, problems = [], [], [], []
    def add(path, in_dir):
        name = os.path.basename(path)
        if "," in path:
            die("path with a comma (DumpLogSegments splits --files on commas): " + path)
        if name.endswith(SEGMENT_SUFFIXES):
            if in_dir and not SEGMENT_NAME.match(name):
                problems.append((path, "segment file name is not 20 digits + suffix (Kafka names them by base offset, zero-padded to 20 digits)"))
            seg.append(path)
        elif name in OTHER_NAMES or name.endswith("-checkpoint"):
            other.append(path)
        elif in_dir:
            problems.append((path, "file Kafka does not write in a partition directory"))
        else:
            die("don't know how to check %s (not a segment file nor a known checkpoint/metadata file)" % path)
    for p in paths:
        p = os.path.abspath(p)
        if os.path.isdir(p):
            dirs.append(p)
            if not re.match(r"^.+-\d+$", os.path.basename(p)):
                problems.append((p, "directory name is not <topic>-<partition>"))
            for name in sorted(os.listdir(p)):
                full = os.path.join(p, name)
                if os.path.isfile(full):
                    add(full, True)
                else:
                    problems.append((full, "unexpected subdirectory in a partition directory"))
        elif os.path.isfile(p):
            add(p, False)
        else:
            die("no such file or directory: " + p)
    # keep order, drop repeats
    def uniq(xs):
        seen, out = set(), []
        for x in xs:
            if x not in seen:
                seen.add(x)
                out.append(x)
        return out
    return uniq(seg), uniq(other), uniq(dirs), problems

# ---------------------------------------------------------------- check

class Report:
    def __init__(self):
        self.items = []
    def add(self, path, msg, source="kafka_dump"):
        self.items.append((rel(path) if path else "", source, msg))
    def print(self):
        for path, source, msg in self.items:
            prefix = (path + ": ") if path else ""
            for i, line in enumerate(msg.splitlines() or [""]):
                print(("%s%s: %s" % (prefix, source, line)) if i == 0 else ("    " + line))

def expected_indexes(batches, base, interval):
    """The entries Kafka's LogSegment.append writes when each batch is one
    append and the segment is written in one broker run, plus the time
    index entry added when the segment is rolled or closed."""
    idx, tidx = [], []
    since, max_ts, max_off = 0, -1, base
    last_t = -1
    for b in batches:
        if b.max_ts > max_ts:
            max_ts, max_off = b.max_ts, b.last
        if since > interval:
            idx.append((b.last, b.pos))
            if max_ts > last_t:
                tidx.append((max_ts, max_off))
                last_t = max_ts
            since = 0
        since += b.size
    if max_ts > last_t:
        tidx.append((max_ts, max_off))
    return idx, tidx

def check(args):
    interval, allow_gaps, quiet, paths = None, False, False, []
    it = iter(args)
    for a in it:
        if a == "--index-interval":
            try:
                interval = int(next(it))
            except (StopIteration, ValueError):
                die("--index-interval needs a number of bytes")
        elif a == "--allow-gaps":
            allow_gaps = True
        elif a == "--quiet":
            quiet = True
        elif a.startswith("--"):
            die("unknown option " + a)
        else:
            paths.append(a)
    if not paths:
        die("check: no files given")
    seg, other, dirs, naming = expand(paths)
    rep = Report()
    for path, msg in naming:
        rep.add(path, msg)

    logs = [f for f in seg if f.endswith(".log")]
    idxs = [f for f in seg if f.endswith((".index", ".timeindex"))]
    stats = {"batches": 0, "records": 0, "index": 0, "timeindex": 0}

    # Pass 1: deep iteration over everything. Pass 2 and 3: the index checks
    # on their own. Pass 4: the other files with Kafka's reader classes. They
    # are independent, so the JVMs run side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        f_deep = pool.submit(Run, ["--deep-iteration"], seg) if seg else None
        f_sanity = pool.submit(Run, ["--index-sanity-check"], idxs) if idxs else None
        f_verify = pool.submit(Run, ["--verify-index-only"], idxs) if idxs else None
        f_other = pool.submit(run_file_check, other) if other else None
        deep, sanity, verify = [f.result() if f else None for f in (f_deep, f_sanity, f_verify)]
        other_result = f_other.result() if f_other else None

    for run, what in ((deep, "--deep-iteration"), (sanity, "--index-sanity-check"), (verify, "--verify-index-only")):
        if run is None:
            continue
        for path, lines in run.errors:
            if allow_gaps:
                # Gaps are allowed, offsets going back are not.
                kept = []
                for l in lines:
                    m = re.match(r"^  (-?\d+) is followed by (-?\d+)$", l)
                    if m and int(m.group(2)) > int(m.group(1)):
                        continue
                    kept.append(l)
                if not [l for l in kept if not l.startswith("Non-consecutive offsets in ")]:
                    continue
                lines = kept
            lines = exception_summary(lines)
            where = ("while reading %s" % rel(path)) if path else "on stderr"
            rep.add(None, "DumpLogSegments %s %s:\n%s" % (what, where, "\n".join(rel_in(l) for l in lines)), "kafka")

    if sanity:
        for f in idxs:
            lines = sanity.sections.get(f)
            if lines is None:
                continue
            if not any(l.endswith("passed sanity check.") or l.endswith(" is empty.") for l in lines):
                rep.add(f, "no 'passed sanity check' line from DumpLogSegments --index-sanity-check", "kafka")

    batches_of = {}
    for f in logs:
        lines = deep.sections.get(f)
        if lines is None:
            rep.add(f, "DumpLogSegments did not get to this file")
            continue
        batches, unknown, invalid = parse_log(lines)
        batches_of[f] = batches
        base = base_of(f)
        stats["batches"] += len(batches)
        if invalid:
            rep.add(f, "Found %d invalid bytes at the end (after %d whole batches)" % (invalid, len(batches)), "kafka")
        for l in unknown[:5]:
            rep.add(f, "unexpected DumpLogSegments output: " + l, "kafka")
        prev = None
        for b in batches:
            stats["records"] += len(b.records)
            tag = "batch at position %d (offsets %d..%d)" % (b.pos, b.base, b.last)
            if not b.valid:
                rep.add(f, "%s: isvalid: false (CRC-32C of the batch does not match)" % tag, "kafka")
            if b.magic != 2:
                rep.add(f, "%s: magic %d, not 2" % (tag, b.magic))
            if b.last < b.base:
                rep.add(f, "%s: lastOffset below baseOffset" % tag)
            if base is not None and b.base < base:
                rep.add(f, "%s: base offset below the segment's base offset %d" % (tag, base))
            if base is not None and b.last - base > INT_MAX:
                rep.add(f, "%s: offset too far from the segment base %d for the 32-bit relative offsets of the indexes" % (tag, base))
            if b.count is not None and b.records and len(b.records) != b.count:
                rep.add(f, "%s: header count %d but %d records" % (tag, b.count, len(b.records)))
            if b.records and b.ts_type == "CreateTime":
                mx = max(r[2] for r in b.records)
                if mx != b.max_ts:
                    rep.add(f, "%s: header max timestamp %d but the largest record timestamp is %d" % (tag, b.max_ts, mx))
            if not allow_gaps:
                if b.count is not None and b.count != b.last - b.base + 1:
                    rep.add(f, "%s: count %d but the offsets span %d" % (tag, b.count, b.last - b.base + 1))
                if prev is None and base is not None and b.base != base:
                    rep.add(f, "%s: the first batch does not start at the segment's base offset %d" % (tag, base))
                if prev is not None and b.base > prev.last + 1:
                    rep.add(f, "%s: follows a batch ending at %d" % (tag, prev.last))
            if prev is not None and b.base <= prev.last:
                rep.add(f, "%s: follows a batch ending at %d (offsets must increase)" % (tag, prev.last))
            prev = b

    # Offsets continue from one segment to the next (in the same directory).
    by_dir = {}
    for f in logs:
        by_dir.setdefault(os.path.dirname(f), []).append(f)
    for d, fs in by_dir.items():
        fs.sort(key=lambda x: base_of(x) or 0)
        for a, b in zip(fs, fs[1:]):
            ba = batches_of.get(a)
            if not ba or base_of(b) is None:
                continue
            if base_of(b) <= ba[-1].last or (not allow_gaps and base_of(b) != ba[-1].last + 1):
                rep.add(b, "segment base offset %d but the previous segment %s ends at offset %d"
                        % (base_of(b), os.path.basename(a), ba[-1].last))

    for f in idxs:
        lines = deep.sections.get(f)
        if lines is None:
            rep.add(f, "DumpLogSegments did not get to this file")
            continue
        base = base_of(f)
        size = os.path.getsize(f)
        log = sibling(f, ".log")
        batches = batches_of.get(log)
        is_time = f.endswith(".timeindex")
        width = 12 if is_time else 8
        kind = "time index" if is_time else "index"
        rx = TIMEINDEX_RE if is_time else INDEX_RE
        entries, unknown = [], []
        for l in lines:
            m = rx.match(l)
            if m:
                entries.append((int(m.group(1)), int(m.group(2))))
            elif not l.endswith(" is empty."):
                unknown.append(l)
        stats["timeindex" if is_time else "index"] += len(entries)
        for l in unknown[:5]:
            rep.add(f, "unexpected DumpLogSegments output: " + l, "kafka")
        if size % width:
            rep.add(f, "%d bytes, not a whole number of %d-byte entries" % (size, width))
        slots = size // width
        if len(entries) < slots and not unknown:
            rep.add(f, "%d %d-byte slots but Kafka stopped after %d entries: slot %d holds relative offset 0 "
                    "(zero-filled space, e.g. a preallocated index that was not trimmed; Kafka trims on roll and clean close)"
                    % (slots, width, len(entries), len(entries)))
        for i, (a, b) in enumerate(entries):
            off = b if is_time else a
            if base is not None and not (0 <= off - base <= INT_MAX):
                rep.add(f, "entry %d: offset %d outside the segment's range [%d, %d]" % (i, off, base, base + INT_MAX))
        for i in range(1, len(entries)):
            (a0, b0), (a1, b1) = entries[i - 1], entries[i]
            if is_time:
                if not (a1 > a0 and b1 > b0):
                    rep.add(f, "entry %d (timestamp %d, offset %d) does not follow entry %d (timestamp %d, offset %d): "
                            "both must increase" % (i, a1, b1, i - 1, a0, b0))
            elif not (a1 > a0 and b1 > b0):
                rep.add(f, "entry %d (offset %d, position %d) does not follow entry %d (offset %d, position %d): "
                        "both must increase" % (i, a1, b1, i - 1, a0, b0))
        if batches is None:
            continue
        if not is_time:
            starts = {b.pos: b for b in batches}
            for i, (off, pos) in enumerate(entries):
                if pos not in starts:
                    rep.add(f, "entry %d: position %d is not the start of a batch in %s" % (i, pos, os.path.basename(log)))
        else:
            timed = [b for b in batches if b.max_ts >= 0]
            if timed:
                mx = max(b.max_ts for b in timed)
                first = next(b for b in timed if b.max_ts == mx)
                if not entries or entries[-1] != (mx, first.last):
                    rep.add(f, "last entry %s, not the segment's largest timestamp %d at offset %d "
                            "(Kafka appends that entry when it rolls or closes a segment)"
                            % ("(none)" if not entries else "(timestamp %d, offset %d)" % entries[-1], mx, first.last))
        if interval is not None:
            want_idx, want_tidx = expected_indexes(batches, base, interval)
            want = want_tidx if is_time else want_idx
            if entries != want:
                diff = next((i for i in range(max(len(want), len(entries)))
                             if i >= len(want) or i >= len(entries) or want[i] != entries[i]), None)
                rep.add(f, "with index.interval.bytes=%d Kafka writes %d %s entries, this file has %d; first difference "
                        "at entry %d: expected %s, found %s" % (
                            interval, len(want), kind, len(entries), diff,
                            want[diff] if diff < len(want) else "(none)",
                            entries[diff] if diff < len(entries) else "(none)"))

    # Each .log has its indexes beside it, each index its .log (in a directory).
    for d in dirs:
        names = set(os.listdir(d))
        for n in sorted(names):
            m = SEGMENT_NAME.match(n)
            if not m:
                continue
            if m.group(2) == "log":
                for suf in ("index", "timeindex"):
                    if "%s.%s" % (m.group(1), suf) not in names:
                        rep.add(os.path.join(d, n), "no %s.%s beside it (Kafka rebuilds a missing index by recovering the segment)" % (m.group(1), suf))
            elif m.group(2) in ("index", "timeindex", "txnindex") and "%s.log" % m.group(1) not in names:
                rep.add(os.path.join(d, n), "index without its .log (Kafka deletes it as orphaned)")

    for f in seg:
        if f.endswith((".txnindex", ".snapshot")) and deep.sections.get(f) is None:
            rep.add(f, "DumpLogSegments did not get to this file")

    # The other files, with Kafka's reader classes.
    epochs_of = {}
    if other:
        rc, out, err = other_result
        for line in out.splitlines():
            parts = line.split("\t")
            if parts[0] == "PROBLEM" and len(parts) >= 3:
                rep.add(parts[1], parts[2], "kafka")
            elif parts[0] == "ENTRY" and len(parts) >= 5 and parts[2] == "epoch":
                epochs_of.setdefault(parts[1], []).append((int(parts[3]), int(parts[4])))
        errlines = [l for l in err.splitlines() if not jvm_noise(l)]
        if errlines or rc not in (0, 1):
            rep.add(None, "Kafka's checkpoint readers (KafkaFileCheck.java) %s:\n%s" % (
                "exited with status %s" % rc, "\n".join(exception_summary(errlines))), "kafka")

    # leader-epoch-checkpoint against the batches of the same directory.
    for d in dirs:
        cp = os.path.join(d, "leader-epoch-checkpoint")
        if cp not in epochs_of:
            continue
        entries = epochs_of[cp]
        fs = sorted((f for f in logs if os.path.dirname(f) == d), key=lambda x: base_of(x) or 0)
        batches = [b for f in fs for b in batches_of.get(f, [])]
        first_of = {}
        for b in batches:
            if b.epoch < 0:
                continue
            first_of.setdefault(b.epoch, b.base)
            covering = [e for e in entries if e[1] <= b.base]
            if not covering:
                rep.add(cp, "batch at offset %d has leader epoch %d but no entry starts at or before it" % (b.base, b.epoch))
                break
            if covering[-1][0] != b.epoch:
                rep.add(cp, "batch at offset %d has leader epoch %d, the checkpoint says epoch %d from offset %d"
                        % (b.base, b.epoch, covering[-1][0], covering[-1][1]))
                break
        for epoch, start in entries:
            if epoch in first_of and first_of[epoch] != start:
                rep.add(cp, "epoch %d starts at offset %d, but its first batch is at offset %d" % (epoch, start, first_of[epoch]))

    if rep.items:
        rep.print()
        print("kafka_dump.sh: FAILED: %d problem(s) in %d file(s) checked" % (len(rep.items), len(seg) + len(other)))
        return 1
    if not quiet:
        print("kafka_dump.sh: OK: %d files (%d .log: %d batches, %d records; %d index entries; %d time index entries; "
              "%d other files) pass DumpLogSegments and Kafka's readers" % (
                  len(seg) + len(other), len(logs), stats["batches"], stats["records"], stats["index"],
                  stats["timeindex"], len(other)))
    return 0

def rel_in(line):
    return line.replace(CWD, "")

# ---------------------------------------------------------------- dump / batches / table

VALUE_OPTIONS = ("--max-message-size", "--max-bytes", "--key-decoder-class", "--value-decoder-class")

def dump(args):
    opts, files = [], []
    it = iter(args)
    for a in it:
        if a in VALUE_OPTIONS:
            opts += [a, next(it, "")]
        elif a.startswith("--"):
            opts.append(a)
        else:
            files.append(os.path.abspath(a))
    if not files:
        die("dump: no files given")
    if "--deep-iteration" not in opts:
        opts.insert(0, "--deep-iteration")
    rc, out, err = java(["kafka.tools.DumpLogSegments"] + opts + ["--files", ",".join(files)])
    sys.stdout.write(out)
    sys.stderr.write(err)
    return 0 if rc == 0 else 1

def batches_cmd(args):
    if len(args) != 1 or not args[0].endswith(".log"):
        die("batches needs exactly one FILE.log")
    f = os.path.abspath(args[0])
    if not os.path.isfile(f):
        die("no such file: " + f)
    rc, out, err = java(["kafka.tools.DumpLogSegments", "--files", f])
    lines = out.splitlines()
    batches, unknown, invalid = parse_log([l for l in lines if not l.startswith("Dumping ")])
    for b in batches:
        print("%d %d %s %s %s" % (b.base, b.last, "null" if b.count is None else b.count,
                                  "true" if b.valid else "false", b.codec))
    if rc != 0 or unknown:
        sys.stderr.write(err)
        for l in unknown:
            print("kafka_dump.sh: unexpected DumpLogSegments output: " + l, file=sys.stderr)
        return 1
    if invalid:
        print("kafka_dump.sh: %d invalid bytes after the last whole batch" % invalid, file=sys.stderr)
    return 0

def table(args):
    files = [os.path.abspath(a) for a in args]
    for f in files:
        if not f.endswith(".log") or not os.path.isfile(f):
            die("table needs FILE.log arguments: " + f)
    run = Run(["--deep-iteration"], files)
    cols = ["segment", "base_offset", "last_offset", "count", "position", "size", "magic", "codec", "crc_valid",
            "timestamp_type", "max_timestamp", "producer_id", "producer_epoch", "base_sequence", "last_sequence",
            "partition_leader_epoch", "is_transactional", "is_control", "control_type"]
    print("\t".join(cols))
    rc = 0
    for f in files:
        lines = run.sections.get(f)
        if lines is None:
            rc = 1
            continue
        batches, unknown, invalid = parse_log(lines)
        for b in batches:
            row = [os.path.basename(f), b.base, b.last, "null" if b.count is None else b.count, b.pos, b.size, b.magic,
                   b.codec, "true" if b.valid else "false", b.ts_type, b.max_ts, b.pid, b.pepoch, b.base_seq,
                   b.last_seq, b.epoch, "true" if b.txn else "false", "true" if b.control else "false",
                   b.control_type or "-"]
            print("\t".join(str(x) for x in row))
        if unknown or invalid:
            rc = 1
    for path, lines in run.errors:
        rc = 1
        print("\n".join(exception_summary(lines)), file=sys.stderr)
    return rc

cmd, args = sys.argv[1], sys.argv[2:]
sys.exit({"check": check, "dump": dump, "batches": batches_cmd, "table": table}[cmd](args))
PYEOF
exit $?
