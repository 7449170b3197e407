#!/usr/bin/env python3
"""dockerfile.py - reads docker/Dockerfile the way the deploy suite needs it,
without a Docker engine.

  dockerfile.py apt build|runtime      packages the stage's apt-get install names
  dockerfile.py runs build             the stage's other RUN commands, NUL-separated
  dockerfile.py lint                   hadolint-style problems, one per line
  dockerfile.py context DEST           copies the build context (the repository
                                       minus .dockerignore) to DEST, like COPY . .

"build" is the stage named build; "runtime" is the last stage. Paths are
relative to the repository root (the build context), or to $BK_DEPLOY_ROOT.
"""
import fnmatch
import json
import os
import re
import shlex
import shutil
import sys

# BK_DEPLOY_ROOT points the checks at another tree (the suite's broken copy).
ROOT = os.environ.get("BK_DEPLOY_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
ROOT = os.path.abspath(ROOT)
DOCKERFILE = os.path.join(ROOT, "docker", "Dockerfile")


def instructions():
    """(line, KEYWORD, argument text) with continuations joined and comment
    lines inside continuations dropped, as Docker does."""
    out, buf, start = [], "", 0
    with open(DOCKERFILE) as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.strip().startswith("#") or (not buf and not line.strip()):
                continue
            if not buf:
                start = n
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            buf += line
            kw, _, arg = buf.strip().partition(" ")
            out.append((start, kw.upper(), arg.strip()))
            buf = ""
    return out


def stages():
    """List of {name, image, line, ins: [...]}."""
    st = []
    for line, kw, arg in instructions():
        if kw == "FROM":
            m = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$", arg, re.I)
            st.append({"image": m.group(1), "name": m.group(2), "line": line, "ins": []})
        elif st:
            st[-1]["ins"].append((line, kw, arg))
    return st


def stage(which):
    st = stages()
    if which == "runtime":
        return st[-1]
    for s in st:
        if s["name"] == which:
            return s
    sys.exit(f"dockerfile.py: no stage named {which}")


def commands(run_arg):
    """Splits a RUN's shell text on && and ; into simple commands."""
    return [c.strip() for c in re.split(r"&&|;", run_arg) if c.strip()]


def apt_packages(s):
    pkgs = []
    for _, kw, arg in s["ins"]:
        if kw != "RUN":
            continue
        for c in commands(arg):
            toks = shlex.split(c)
            toks = [t for t in toks if "=" not in t or t.startswith("-")]  # VAR=x prefixes
            if toks[:2] == ["apt-get", "install"]:
                pkgs += [t for t in toks[2:] if not t.startswith("-")]
    return pkgs


def is_apt_run(arg):
    return any(shlex.split(c)[:1] == ["apt-get"] or "apt-get " in c for c in commands(arg))


def json_form(arg):
    try:
        v = json.loads(arg)
    except ValueError:
        return False
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def dockerignore():
    pats = []
    p = os.path.join(ROOT, ".dockerignore")
    if os.path.exists(p):
        for line in open(p):
            line = line.strip()
            if line and not line.startswith("#"):
                pats.append(line.rstrip("/"))
    return pats


def ignored(rel, pats):
    parts = rel.split("/")
    for p in pats:
        if p.startswith("**/"):
            tail = p[3:]
            if any(fnmatch.fnmatch(x, tail) for x in parts):
                return True
        elif fnmatch.fnmatch(rel, p) or any(
            fnmatch.fnmatch("/".join(parts[:i]), p) for i in range(1, len(parts))
        ):
            return True
    return False


def lint():
    probs = []
    st = stages()
    names = set()
    pats = dockerignore()
    if len(st) < 2:
        probs.append("not a multi-stage build")
    for s in st:
        img = s["image"]
        if ":" not in img or img.endswith(":latest"):
            probs.append(f"line {s['line']}: FROM {img}: pin a tag")
        for line, kw, arg in s["ins"]:
            where = f"line {line}: {kw}"
            if kw == "RUN":
                if re.search(r"\bsudo\b", arg):
                    probs.append(f"{where}: sudo in a RUN")
                if re.search(r"apt-get\s+(dist-)?upgrade", arg):
                    probs.append(f"{where}: apt-get upgrade (pin the base image instead)")
                if re.search(r"(^|&&|;)\s*cd\s", arg):
                    probs.append(f"{where}: cd in a RUN (use WORKDIR)")
                if "apt-get install" in arg:
                    if not re.search(r"apt-get install\s.*(-y\b|--yes\b)", arg):
                        probs.append(f"{where}: apt-get install without -y")
                    if "--no-install-recommends" not in arg:
                        probs.append(f"{where}: apt-get install without --no-install-recommends")
                    if "apt-get update" not in arg:
                        probs.append(f"{where}: apt-get install without apt-get update in the same RUN")
                    if "rm -rf /var/lib/apt/lists/*" not in arg:
                        probs.append(f"{where}: apt lists not removed in the same RUN")
                if "apt " in arg.replace("apt-get", ""):
                    probs.append(f"{where}: apt (not apt-get) in a script")
            elif kw == "ADD":
                probs.append(f"{where}: use COPY (ADD fetches URLs and unpacks archives)")
            elif kw == "COPY":
                toks = arg.split()
                frm = [t for t in toks if t.startswith("--from=")]
                srcs = [t for t in toks[:-1] if not t.startswith("--")]
                if frm:
                    if frm[0][7:] not in names:
                        probs.append(f"{where}: --from={frm[0][7:]} names no earlier stage")
                else:
                    for src in srcs:
                        if src in (".", "./"):
                            continue
                        if not os.path.exists(os.path.join(ROOT, src)):
                            probs.append(f"{where}: {src} not in the repository")
                        elif ignored(src, pats):
                            probs.append(f"{where}: {src} excluded by .dockerignore")
            elif kw == "WORKDIR" and not arg.startswith("/"):
                probs.append(f"{where}: relative WORKDIR {arg}")
            elif kw in ("ENTRYPOINT", "CMD") and not json_form(arg):
                probs.append(f"{where}: shell form (signals would go to /bin/sh, not brookd)")
            elif kw == "HEALTHCHECK":
                cmd = re.sub(r"^(--\S+\s+)*", "", arg)
                if not cmd.startswith("CMD ") or not json_form(cmd[4:]):
                    probs.append(f"{where}: not in CMD [\"...\"] exec form")
        for kw in ("ENTRYPOINT", "CMD", "HEALTHCHECK"):
            if sum(1 for _, k, _ in s["ins"] if k == kw) > 1:
                probs.append(f"stage {s['name'] or s['image']}: more than one {kw}")
        if s["name"]:
            names.add(s["name"])

    rt = st[-1]
    kws = [(line, kw, arg) for line, kw, arg in rt["ins"]]
    users = [(line, arg) for line, kw, arg in kws if kw == "USER"]
    if not users:
        probs.append("runtime stage: no USER (would run as root)")
    else:
        line, user = users[-1]
        if user.split(":")[0] in ("root", "0"):
            probs.append(f"line {line}: runtime USER {user} is root")
        ep = [l for l, kw, _ in kws if kw in ("ENTRYPOINT", "CMD")]
        if ep and line > min(ep):
            probs.append(f"line {line}: USER after ENTRYPOINT/CMD")
    want = {
        "EXPOSE": lambda a: "9092" in a.split() or "9092/tcp" in a.split(),
        "VOLUME": lambda a: "/var/lib/brook" in (json.loads(a) if json_form(a) else a.split()),
        "HEALTHCHECK": lambda a: True,
        "ENTRYPOINT": lambda a: True,
        "STOPSIGNAL": lambda a: a in ("SIGTERM", "15"),
    }
    for kw, ok in want.items():
        args = [a for _, k, a in kws if k == kw]
        if not args:
            probs.append(f"runtime stage: no {kw}")
        elif not any(ok(a) for a in args):
            probs.append(f"runtime stage: {kw} {args[0]} is not what brook needs")
    if not rt["image"].startswith("debian:12-slim"):
        probs.append(f"runtime stage: based on {rt['image']}, expected debian:12-slim")
    return probs


def copy_context(dest):
    pats = dockerignore()
    for d, dirs, files in os.walk(ROOT):
        rel_d = os.path.relpath(d, ROOT)
        rel_d = "" if rel_d == "." else rel_d + "/"
        dirs[:] = [x for x in dirs if not ignored(rel_d + x, pats)]
        os.makedirs(os.path.join(dest, rel_d), exist_ok=True)
        for f in files:
            rel = rel_d + f
            if not ignored(rel, pats):
                shutil.copy2(os.path.join(ROOT, rel), os.path.join(dest, rel), follow_symlinks=False)


def main(argv):
    if len(argv) >= 2 and argv[0] == "apt":
        print("\n".join(apt_packages(stage(argv[1]))))
    elif len(argv) >= 2 and argv[0] == "runs":
        runs = [a for _, kw, a in stage(argv[1])["ins"] if kw == "RUN" and not is_apt_run(a)]
        sys.stdout.write("".join(r + "\0" for r in runs))
    elif argv[:1] == ["lint"]:
        probs = lint()
        print("\n".join(probs))
        return 1 if probs else 0
    elif len(argv) >= 2 and argv[0] == "context":
        copy_context(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
