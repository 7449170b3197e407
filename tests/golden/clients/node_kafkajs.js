#!/usr/bin/env node
// Capture scenario for kafkajs (pure JavaScript client).
//
// usage: NODE_PATH=tests/tools/node/node_modules node node_kafkajs.js BOOTSTRAP
//
// gzip is built into kafkajs; snappy and lz4 come from kafkajs-snappy and
// kafkajs-lz4 and zstd from @kafkajs/zstd when those installed (the zstd
// one builds a native addon that may fail); a codec without its package is
// skipped with a note. Run by tests/golden/capture.sh; see README.md.
"use strict";

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require("kafkajs");

const CLIENT = "kafkajs";
const TOPIC = "golden-" + CLIENT;
const TXN_TOPIC = TOPIC + "-txn";
const GROUP = TOPIC + "-classic";
const N = parseInt(process.env.GOLDEN_RECORDS || "20", 10);
const FILL = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(4);
const t0 = Date.now();
const failed = [];
const notes = [];

function log(msg) {
  process.stderr.write(`[${CLIENT} ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}

async function step(name, fn) {
  log(`step ${name}`);
  try {
    return await fn();
  } catch (e) {
    failed.push(name);
    log(`step ${name} FAILED: ${e && e.stack ? e.stack : e}`);
    return undefined;
  }
}

// Same record set as golden_common.py.
function records(codec, n = N) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const key = i % 4 === 3 ? null : `key-${String(i).padStart(2, "0")}`;
    let value = null;
    if (i % 5 !== 4 || key === null) {
      value = `${CLIENT} ${codec} record ${String(i).padStart(2, "0")} ${FILL}`.slice(0, 100);
    }
    const headers = i % 2 === 0 ? { "trace-id": `t${String(i).padStart(4, "0")}`, empty: "" } : undefined;
    out.push({ key, value, headers });
  }
  return out;
}

// Optional codecs.
const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };
function tryCodec(name, type, load) {
  try {
    CompressionCodecs[type] = load();
    codecs[name] = type;
  } catch (e) {
    notes.push(`${name} skipped: ${e.code || e.message}`);
  }
}
tryCodec("snappy", CompressionTypes.Snappy, () => require("kafkajs-snappy"));
tryCodec("lz4", CompressionTypes.LZ4, () => new (require("kafkajs-lz4"))().codec);
tryCodec("zstd", CompressionTypes.ZSTD, () => {
  const { ZstdCodec } = require("@kafkajs/zstd");
  return ZstdCodec();
});

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function main() {
  const bootstrap = process.argv[2];
  const kafka = (clientId) =>
    new Kafka({
      clientId,
      brokers: [bootstrap],
      logLevel: logLevel.ERROR,
      connectionTimeout: 10000,
      requestTimeout: 15000,
      retry: { retries: 3 },
    });
  notes.push("kafkajs has no KIP-848 (consumer group protocol) support: classic groups only");
  for (const n of notes) log(`note: ${n}`);

  const admin = kafka("golden-kafkajs-admin").admin();
  await step("admin-connect", () => admin.connect());
  await step("create-topics", () =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: TOPIC, numPartitions: 1, replicationFactor: 1 },
        { topic: TXN_TOPIC, numPartitions: 1, replicationFactor: 1 },
      ],
    }));

  for (const codec of ["none", "gzip", "snappy", "lz4", "zstd"]) {
    if (!(codec in codecs)) {
      log(`step produce-${codec} SKIPPED (codec package not installed)`);
      continue;
    }
    await step(`produce-${codec}`, async () => {
      const p = kafka("golden-kafkajs-producer").producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      try {
        await p.send({ topic: TOPIC, acks: -1, compression: codecs[codec], messages: records(codec) });
      } finally {
        await p.disconnect();
      }
    });
  }
  await step("produce-acks0", async () => {
    const p = kafka("golden-kafkajs-producer-acks0").producer();
    await p.connect();
    try {
      await p.send({ topic: TOPIC, acks: 0, messages: records("acks0", 5) });
    } finally {
      await p.disconnect();
    }
  });
  const produced = Object.keys(codecs).length * N + 5;

  async function consumeGroup(clientId, want, minMs) {
    const c = kafka(clientId).consumer({
      groupId: GROUP,
      maxWaitTimeInMs: 200,
      heartbeatInterval: 300,
      sessionTimeout: 10000,
    });
    await c.connect();
    let got = 0;
    try {
      await c.subscribe({ topic: TOPIC, fromBeginning: true });
      const started = Date.now();
      await c.run({ autoCommit: true, autoCommitThreshold: 1000, eachMessage: async () => { got++; } });
      for (let i = 0; i < 300 && Date.now() - started < 30000; i++) {
        if (got >= want && Date.now() - started >= minMs) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await c.commitOffsets([]).catch(() => {}); // flush pending commits
    } finally {
      await c.disconnect(); // commits resolved offsets, LeaveGroup
    }
    log(`${clientId} read ${got} of ${want}`);
    if (got < want) throw new Error(`read ${got} of ${want}`);
  }
  await step("consume-group", () => consumeGroup("golden-kafkajs-consumer", produced, 2000));
  // Same group again: OffsetFetch returns the committed offsets.
  await step("rejoin-group", () => consumeGroup("golden-kafkajs-consumer2", 0, 3000));

  await step("list-offsets", async () => {
    log(`topic offsets ${JSON.stringify(await admin.fetchTopicOffsets(TOPIC))}`);
    log(`by timestamp ${JSON.stringify(await admin.fetchTopicOffsetsByTimestamp(TOPIC, 0))}`);
    log(`group offsets ${JSON.stringify(await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] }))}`);
  });
  await step("group-admin", async () => {
    log(`groups ${JSON.stringify(await admin.listGroups())}`);
    log(`describe ${JSON.stringify((await admin.describeGroups([GROUP])).groups.map((g) => g.state))}`);
  });

  await step("transactions", async () => {
    const p = kafka("golden-kafkajs-txn").producer({
      transactionalId: "golden-kafkajs-txn",
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await p.connect();
    try {
      let txn = await p.transaction();
      await txn.send({ topic: TXN_TOPIC, compression: CompressionTypes.GZIP, messages: records("txn-commit", 5) });
      await txn.sendOffsets({
        consumerGroupId: GROUP,
        topics: [{ topic: TOPIC, partitions: [{ partition: 0, offset: "3" }] }],
      });
      await txn.commit();
      txn = await p.transaction();
      await txn.send({ topic: TXN_TOPIC, compression: CompressionTypes.GZIP, messages: records("txn-abort", 5) });
      await txn.abort();
    } finally {
      await p.disconnect();
    }
  });

  await step("read-committed", async () => {
    const c = kafka("golden-kafkajs-read-committed").consumer({
      groupId: TOPIC + "-read-committed",
      readUncommitted: false,
      maxWaitTimeInMs: 200,
    });
    await c.connect();
    let got = 0;
    try {
      await c.subscribe({ topic: TXN_TOPIC, fromBeginning: true });
      await c.run({ eachMessage: async () => { got++; } });
      const started = Date.now();
      for (let i = 0; i < 200 && Date.now() - started < 20000; i++) {
        if (got >= 5 && Date.now() - started >= 1000) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await c.disconnect();
    }
    log(`read_committed consumer read ${got}`);
    if (got !== 5) throw new Error(`read_committed read ${got}, want 5`);
  });

  await step("describe-configs", async () => {
    const r = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: 2 /* TOPIC */, name: TOPIC },
        { type: 4 /* BROKER */, name: "1" },
      ],
    });
    log(`configs: ${r.resources.map((x) => `${x.resourceName}:${x.configEntries.length}`).join(" ")}`);
  });
  await step("delete-topics", () => admin.deleteTopics({ topics: [TOPIC, TXN_TOPIC], timeout: 10000 }));
  await admin.disconnect();

  if (failed.length) {
    log(`done; failed steps: ${failed.join(", ")}`);
    return 1;
  }
  log("done; all steps passed");
  return 0;
}

withTimeout(main(), 200000, "scenario")
  .then((rc) => process.exit(rc))
  .catch((e) => {
    log(`fatal: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  });
