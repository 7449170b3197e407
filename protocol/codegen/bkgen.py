#!/usr/bin/env python3
"""bkgen - generate brook's C message codec from Apache Kafka's JSON message specs.

Reads the spec folders (messages/, group-coordinator/, transaction-coordinator/)
and writes protocol/gen/messages.h and protocol/gen/messages.c: one C struct per
message and nested struct, plus the descriptor tables that protocol/codec.c
interprets to decode, encode and size every version of every message.

The output depends only on the specs (files are read in sorted order, nothing
depends on dict or set ordering), so `make regen` reproduces it byte for byte.
"""

import argparse
import json
import os
import re
import sys

VMAX = 0x7FFF  # "N+" ranges end here

PRIMS = {
    "bool": ("BK_FT_BOOL", "bool"),
    "int8": ("BK_FT_INT8", "int8_t"),
    "int16": ("BK_FT_INT16", "int16_t"),
    "uint16": ("BK_FT_UINT16", "uint16_t"),
    "int32": ("BK_FT_INT32", "int32_t"),
    "uint32": ("BK_FT_UINT32", "uint32_t"),
    "int64": ("BK_FT_INT64", "int64_t"),
    "float64": ("BK_FT_FLOAT64", "double"),
    "string": ("BK_FT_STRING", "bk_str"),
    "bytes": ("BK_FT_BYTES", "bk_bytes"),
    "records": ("BK_FT_RECORDS", "bk_bytes"),
    "uuid": ("BK_FT_UUID", "bk_uuid"),
}

# Folders read under --specs, and which message kinds each contributes.
SPEC_DIRS = ("messages", "group-coordinator", "transaction-coordinator")


class SpecError(Exception):
    pass


def strip_comments(text):
    """Removes // line comments outside of JSON strings."""
    out = []
    for line in text.split("\n"):
        res, in_str, i = [], False, 0
        while i < len(line):
            c = line[i]
            if in_str:
                res.append(c)
                if c == "\\" and i + 1 < len(line):
                    res.append(line[i + 1])
                    i += 1
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
                res.append(c)
            elif line.startswith("//", i):
                break
            else:
                res.append(c)
            i += 1
        out.append("".join(res))
    return "\n".join(out)


def parse_range(s, what):
    """'3' -> (3,3); '0-4' -> (0,4); '9+' -> (9,VMAX); 'none' -> empty (1,0)."""
    if s is None:
        return None
    s = s.strip()
    if s == "none":
        return (1, 0)
    m = re.fullmatch(r"(\d+)\+", s)
    if m:
        return (int(m.group(1)), VMAX)
    m = re.fullmatch(r"(\d+)-(\d+)", s)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"\d+", s)
    if m:
        return (int(s), int(s))
    raise SpecError("bad version range %r in %s" % (s, what))


def intersect(a, b):
    return (max(a[0], b[0]), min(a[1], b[1]))


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Field:
    def __init__(self, msg, spec, where):
        self.name = spec["name"]
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", self.name):
            raise SpecError("bad field name %r in %s" % (self.name, where))
        t = spec["type"]
        self.is_array = t.startswith("[]")
        self.elem = t[2:] if self.is_array else t
        # A tagged field may omit "versions": it then exists in its tagged versions.
        self.versions = parse_range(spec.get("versions", spec.get("taggedVersions")),
                                    where + "." + self.name)
        if self.versions is None:
            raise SpecError("field %s.%s has no versions" % (where, self.name))
        self.nullable = parse_range(spec.get("nullableVersions", "none"), where)
        self.tagged = parse_range(spec.get("taggedVersions", "none"), where)
        self.tag = spec.get("tag", -1)
        if self.tagged[0] <= self.tagged[1] and self.tag < 0:
            raise SpecError("tagged field %s.%s has no tag" % (where, self.name))
        self.flex = parse_range(spec.get("flexibleVersions", "0+"), where)
        d = spec.get("default")
        # Specs write defaults as strings, but a few use bare JSON values.
        if isinstance(d, bool):
            d = "true" if d else "false"
        elif isinstance(d, (int, float)):
            d = str(d)
        self.default = d
        self.about = spec.get("about", "")
        self.struct = None  # Struct, for struct elements
        if self.elem in PRIMS:
            if "fields" in spec:
                raise SpecError("primitive field %s.%s has fields" % (where, self.name))
        else:
            if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", self.elem):
                raise SpecError("unknown type %r in %s.%s" % (t, where, self.name))
            if "fields" in spec:
                self.struct = msg.add_struct(self.elem, spec["fields"], where + "." + self.name)
            # else: a commonStructs reference, resolved after parsing

    def nullable_ever(self):
        return self.nullable[0] <= self.nullable[1]

    def is_struct(self):
        return self.elem not in PRIMS

    def ctype(self, msg):
        if self.is_struct():
            base = msg.cname(self.elem)
        else:
            base = PRIMS[self.elem][1]
        if self.is_array:
            return "struct {\n%s *items;\n int32_t count; /* -1 = null */\n}" % base
        if self.is_struct() and self.nullable_ever():
            return base + " *"
        return base + " "

    def default_init(self):
        """C initialisers for the descriptor's default members."""
        d = self.default
        if self.is_array:
            if d not in (None, "null"):
                raise SpecError("array %s has default %r" % (self.name, d))
            return ".def_null = %d" % (1 if d == "null" else 0)
        e = self.elem
        if e == "bool":
            if d not in (None, "true", "false"):
                raise SpecError("bool %s default %r" % (self.name, d))
            return ".def_int = %d" % (1 if d == "true" else 0)
        if e in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
            v = int(d, 0) if d is not None else 0
            if e == "int64":
                return ".def_int = INT64_C(%d)" % v
            return ".def_int = %d" % v
        if e == "float64":
            return ".def_f64 = %r" % float(d if d is not None else 0)
        if e == "string":
            if d == "null":
                return ".def_null = 1"
            return ".def_str = %s" % c_string(d or "")
        if e in ("bytes", "records", "uuid") or self.is_struct():
            if d == "null":
                return ".def_null = 1"
            if d not in (None, ""):
                raise SpecError("field %s has unsupported default %r" % (self.name, d))
            return ".def_null = 0"
        raise SpecError("no default rule for %s" % e)


class Struct:
    def __init__(self, msg, name, fields_spec, where):
        self.name = name
        self.msg = msg
        self.fields = [Field(msg, f, where) for f in fields_spec]
        seen, tags = set(), set()
        for f in self.fields:
            if f.name in seen:
                raise SpecError("duplicate field %s in %s" % (f.name, where))
            seen.add(f.name)
            if f.tag >= 0:
                if f.tag in tags:
                    raise SpecError("duplicate tag %d in %s" % (f.tag, where))
                tags.add(f.tag)


# Versions Apache Kafka 4.0 still accepts below the spec's validVersions
# (these specs come from a later release that dropped them). The field
# version annotations still describe the old layouts, so widening the range
# is all it takes. Metadata v0-v3: sarama and other clients pinned to old
# protocol versions send them, and Kafka 4.0 answers them.
KAFKA_40_LOWEST = {"MetadataRequest": 0, "MetadataResponse": 0}


class Message:
    def __init__(self, spec, path):
        self.path = path
        self.name = spec["name"]
        self.kind = spec["type"]
        self.api_key = spec.get("apiKey", -1)
        self.valid = parse_range(spec["validVersions"], self.name)
        if self.name in KAFKA_40_LOWEST:
            self.valid = (min(self.valid[0], KAFKA_40_LOWEST[self.name]), self.valid[1])
        self.flexible = parse_range(spec.get("flexibleVersions", "none"), self.name)
        self.listeners = spec.get("listeners", [])
        self.unstable = bool(spec.get("latestVersionUnstable", False))
        self.structs = {}  # name -> Struct, in definition order
        self.order = []
        for cs in spec.get("commonStructs", []):
            self.add_struct(cs["name"], cs["fields"], self.name + "." + cs["name"])
        self.root = Struct(self, None, spec["fields"], self.name)
        self.resolve(self.root)
        for s in list(self.order):
            self.resolve(s)

    def add_struct(self, name, fields_spec, where):
        if name in self.structs:
            raise SpecError("struct %s defined twice in %s" % (name, self.name))
        s = Struct(self, name, fields_spec, where)
        self.structs[name] = s
        self.order.append(s)
        return s

    def resolve(self, st):
        for f in st.fields:
            if f.is_struct() and f.struct is None:
                if f.elem not in self.structs:
                    raise SpecError("unknown struct %s in %s" % (f.elem, self.name))
                f.struct = self.structs[f.elem]

    def cname(self, struct_name):
        return "bk_%s" % self.name if struct_name is None else "bk_%s_%s" % (self.name, struct_name)

    def dname(self, struct_name):
        return "bk_sd_%s" % self.name if struct_name is None else "bk_sd_%s_%s" % (
            self.name, struct_name)

    def emit_order(self):
        """Structs in an order where each one's embedded members come first."""
        done, out = set(), []

        def visit(s):
            if id(s) in done:
                return
            done.add(id(s))
            for f in s.fields:
                if f.struct is not None:
                    visit(f.struct)
            out.append(s)

        for s in self.order:
            visit(s)
        visit(self.root)
        return out


def load_specs(specs_dir):
    msgs = []
    for sub in SPEC_DIRS:
        d = os.path.join(specs_dir, sub)
        if not os.path.isdir(d):
            if sub == "messages":
                raise SpecError("no messages/ folder under %s" % specs_dir)
            continue
        for fn in sorted(os.listdir(d)):
            if not fn.endswith(".json"):
                continue
            path = os.path.join(d, fn)
            with open(path, encoding="utf-8") as fh:
                spec = json.loads(strip_comments(fh.read()))
            kind = spec.get("type")
            if kind in ("request", "response"):
                # A standalone KRaft broker serves the APIs of the broker listener.
                if "broker" not in spec.get("listeners", []) and kind == "request":
                    continue
            elif kind not in ("header", "data"):
                continue
            msgs.append(Message(spec, sub + "/" + fn))
    # Keep responses only for the requests we kept.
    keys = {m.api_key for m in msgs if m.kind == "request"}
    msgs = [m for m in msgs if m.kind != "response" or m.api_key in keys]
    return msgs


def vr(r):
    return "{%d, %d}" % r


def api_enum_name(name):
    """'DescribeTopicPartitions' -> 'DESCRIBE_TOPIC_PARTITIONS'."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def apis(msgs):
    """(key, name, request, response) for every API kept, by key."""
    reqs = {m.api_key: m for m in msgs if m.kind == "request"}
    resps = {m.api_key: m for m in msgs if m.kind == "response"}
    out = []
    for k in sorted(reqs):
        rq, rs = reqs[k], resps.get(k)
        if rs is None or rs.valid != rq.valid or rs.flexible != rq.flexible:
            raise SpecError("request and response of api %d disagree on versions" % k)
        out.append((k, rq.name[: -len("Request")], rq, rs))
    return out


def gen_header(msgs):
    o = []
    o.append("/* messages.h - GENERATED by protocol/codegen/bkgen.py from Apache Kafka's JSON")
    o.append(" * message specs. Do not edit: change the generator and run `make regen`. */")
    o.append("#ifndef BK_GEN_MESSAGES_H")
    o.append("#define BK_GEN_MESSAGES_H")
    o.append("")
    o.append('#include "../codec.h"')
    o.append("")
    o.append("/* API keys of the broker listener. */")
    o.append("enum bk_api_key {")
    table = apis(msgs)
    for k, name, _, _ in table:
        o.append("    BK_API_%s = %d," % (api_enum_name(name), k))
    o.append("};")
    o.append("#define BK_API_KEY_LIMIT %d /* one above the highest key */" % (table[-1][0] + 1))
    o.append("")
    for m in msgs:
        o.append("/* %s (%s, versions %d-%d) */" % (m.name, m.path, m.valid[0], m.valid[1]))
        for s in m.emit_order():
            cn = m.cname(s.name)
            o.append("typedef struct %s {" % cn)
            for f in s.fields:
                ct = f.ctype(m)
                if f.is_array:
                    elem = m.cname(f.elem) if f.is_struct() else PRIMS[f.elem][1]
                    o.append("    struct {")
                    o.append("        %s *items;" % elem)
                    o.append("        int32_t count; /* -1 = null */")
                    o.append("    } %s;" % f.name)
                else:
                    o.append("    %s%s;" % (ct, f.name))
            o.append("    bk_tags unknown_tags;")
            o.append("} %s;" % cn)
            o.append("extern const bk_struct %s;" % m.dname(s.name))
        o.append("extern const bk_msg bk_msg_%s;" % m.name)
        o.append("")
    o.append("/* Every API of the broker listener, by key, and a lookup by key. */")
    o.append("extern const bk_api bk_apis[];")
    o.append("extern const int bk_apis_count;")
    o.append("extern const bk_api *const bk_api_by_key[BK_API_KEY_LIMIT];")
    o.append("/* Every generated message, for tests that walk them all. */")
    o.append("extern const bk_msg *const bk_all_msgs[];")
    o.append("extern const int bk_all_msgs_count;")
    o.append("")
    o.append("#endif")
    return "\n".join(o) + "\n"


def gen_struct_desc(m, s, o):
    cn = m.cname(s.name)
    dn = m.dname(s.name)
    if s.fields:
        o.append("static const bk_field %s_fields[] = {" % dn)
        for f in s.fields:
            t = "BK_FT_STRUCT" if f.is_struct() else PRIMS[f.elem][0]
            parts = [
                ".name = %s" % c_string(f.name),
                ".type = %s" % t,
                ".is_array = %d" % (1 if f.is_array else 0),
                ".is_ptr = %d" % (1 if (f.is_struct() and not f.is_array and f.nullable_ever()) else 0),
                ".offset = offsetof(%s, %s)" % (cn, f.name),
                ".versions = %s" % vr(f.versions),
                ".nullable = %s" % vr(f.nullable),
                ".tagged = %s" % vr(f.tagged),
                ".flex = %s" % vr(f.flex),
                ".tag = %d" % f.tag,
            ]
            if f.struct is not None:
                parts.append(".sub = &%s" % m.dname(f.struct.name))
            parts.append(f.default_init())
            o.append("    {%s}," % ", ".join(parts))
        o.append("};")
    o.append("const bk_struct %s = {%s, sizeof(%s), offsetof(%s, unknown_tags), %d, %s};" % (
        dn, c_string(s.name or m.name), cn, cn, len(s.fields),
        (dn + "_fields") if s.fields else "NULL"))


KIND = {"request": "BK_MSG_REQUEST", "response": "BK_MSG_RESPONSE",
        "header": "BK_MSG_HEADER", "data": "BK_MSG_DATA"}


def gen_source(msgs):
    o = []
    o.append("/* messages.c - GENERATED by protocol/codegen/bkgen.py from Apache Kafka's JSON")
    o.append(" * message specs. Do not edit: change the generator and run `make regen`. */")
    o.append('#include "messages.h"')
    o.append("")
    o.append("#include <stddef.h>")
    o.append("")
    for m in msgs:
        o.append("/* %s */" % m.name)
        for s in m.emit_order():
            if s is not m.root:
                gen_struct_desc(m, s, o)
        gen_struct_desc(m, m.root, o)
        o.append("const bk_msg bk_msg_%s = {%s, %s, %d, %s, %s, &%s};" % (
            m.name, c_string(m.name), KIND[m.kind], m.api_key, vr(m.valid),
            vr(m.flexible), m.dname(None)))
        o.append("")
    table = apis(msgs)
    o.append("const bk_api bk_apis[] = {")
    for k, name, rq, rs in table:
        o.append("    {%d, %s, %s, %s, %d, &bk_msg_%s, &bk_msg_%s}," % (
            k, c_string(name), vr(rq.valid), vr(rq.flexible),
            1 if rq.unstable else 0, rq.name, rs.name))
    o.append("};")
    o.append("const int bk_apis_count = (int)(sizeof bk_apis / sizeof bk_apis[0]);")
    o.append("")
    o.append("const bk_api *const bk_api_by_key[BK_API_KEY_LIMIT] = {")
    for i, (k, name, _, _) in enumerate(table):
        o.append("    [%d] = &bk_apis[%d], /* %s */" % (k, i, name))
    o.append("};")
    o.append("")
    o.append("const bk_msg *const bk_all_msgs[] = {")
    for m in msgs:
        o.append("    &bk_msg_%s," % m.name)
    o.append("};")
    o.append("const int bk_all_msgs_count = (int)(sizeof bk_all_msgs / sizeof bk_all_msgs[0]);")
    return "\n".join(o) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--specs", required=True, help="folder holding messages/ etc.")
    ap.add_argument("--out", required=True, help="output folder (protocol/gen)")
    args = ap.parse_args()
    try:
        msgs = load_specs(args.specs)
        files = {"messages.h": gen_header(msgs), "messages.c": gen_source(msgs)}
    except (SpecError, KeyError, ValueError) as e:
        print("bkgen: %s" % e, file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    for fn, text in files.items():
        with open(os.path.join(args.out, fn), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    n_api = sum(1 for m in msgs if m.kind == "request")
    print("bkgen: %d messages (%d APIs) -> %s" % (len(msgs), n_api, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
