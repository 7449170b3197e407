// kafkajs_it.js: integration checks for kafkajs (tests/tools/node) against a
// broker.
//
//   NODE_PATH=tests/tools/node/node_modules node kafkajs_it.js BOOTSTRAP
//
// Prints one line per check: "ok NAME", "FAIL NAME: detail" or
// "SKIP NAME: reason" (read by tests/integration/suite_kafkajs.sh). Exit
// status 0 only when no check failed.
//
// Consuming without a consumer group: kafkajs' consumer always joins a
// group, so reads go through kafkajs' own lower layer instead - the Cluster
// object its producer/consumer/admin are built on (created by the Kafka
// instance's private factory with the same connection options), its
// Metadata-driven leader lookup and Broker.fetch(), i.e. kafkajs' Fetch
// encoder and its record batch / codec decoders. No group, no commits.
// Every call is bounded (requestTimeout, retries, a watchdog for the whole
// program).

const { Kafka, logLevel, CompressionTypes, CompressionCodecs, ConfigResourceTypes, Partitioners } = require('kafkajs')

const bootstrap = process.argv[2]
const TOPIC = 'it-kafkajs'
const N = 15
const base = Date.now() - 3600 * 1000
let failures = 0

const watchdog = setTimeout(() => {
  console.log('FAIL watchdog: the program did not finish within 100 s')
  process.exit(1)
}, 100 * 1000)

const ok = name => console.log(`ok ${name}`)
const fail = (name, detail) => {
  failures++
  console.log(`FAIL ${name}: ${String(detail).replace(/\n/g, ' ')}`)
}
const skip = (name, why) => console.log(`SKIP ${name}: ${why}`)
const check = (name, cond, detail) => (cond ? ok(name) : fail(name, detail), cond)
const eq = (name, want, got) => {
  const w = JSON.stringify(want)
  const g = JSON.stringify(got)
  return check(name, w === g, `want ${w} got ${g}`)
}
async function step(name, fn) {
  try {
    await fn()
  } catch (e) {
    fail(name, `exception ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`)
  }
}
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// Codecs: gzip is built in; snappy, lz4 and zstd come from the pinned packages.
const codecs = [{ name: 'none', type: CompressionTypes.None }, { name: 'gzip', type: CompressionTypes.GZIP }]
try {
  CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')
  codecs.push({ name: 'snappy', type: CompressionTypes.Snappy })
} catch (e) {
  skip('codec snappy', `kafkajs-snappy does not load: ${e.message}`)
}
try {
  const LZ4 = require('kafkajs-lz4')
  CompressionCodecs[CompressionTypes.LZ4] = new LZ4().codec
  codecs.push({ name: 'lz4', type: CompressionTypes.LZ4 })
} catch (e) {
  skip('codec lz4', `kafkajs-lz4 does not load: ${e.message}`)
}
// zstd: kafkajs's own @kafkajs/zstd no longer builds on current Node.js, so
// the codec is wired to @mongodb-js/zstd (prebuilt) through kafkajs's codec
// interface: compress(encoder) and decompress(buffer), both async.
try {
  const zstd = require('@mongodb-js/zstd')
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: async encoder => zstd.compress(encoder.buffer),
    decompress: async buffer => zstd.decompress(buffer)
  })
  codecs.push({ name: 'zstd', type: CompressionTypes.ZSTD })
} catch (e) {
  skip('codec zstd', `@mongodb-js/zstd does not load: ${e.message}`)
}

const kafka = new Kafka({
  clientId: 'it-kafkajs',
  brokers: [bootstrap],
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 4, initialRetryTime: 200, maxRetryTime: 2000 },
  logLevel: logLevel.NOTHING,
})

// message i of codec c (partition = codec index)
function message(c, i, partition) {
  return {
    partition,
    key: i === 4 ? null : `${c}-key-${i}`,
    value: `${c} value ${i} `.repeat(1 + (i % 5)),
    timestamp: String(base + i * 1000),
    headers: { codec: c, i: String(i), multi: ['a', 'b'] },
  }
}

function showWant(m, offset) {
  return [String(offset), m.key, m.value, m.timestamp, `codec=${m.headers.codec},i=${m.headers.i},multi=a,multi=b`].join('|')
}

function showGot(r) {
  const hs = []
  for (const [k, v] of Object.entries(r.headers || {})) {
    for (const x of Array.isArray(v) ? v : [v]) hs.push(`${k}=${x === null ? null : x.toString()}`)
  }
  return [r.offset, r.key === null ? null : r.key.toString(), r.value === null ? null : r.value.toString(), r.timestamp,
    hs.join(',')].join('|')
}

// The no-group reader: kafkajs' Cluster and Broker.fetch.
function createCluster() {
  const factory = Object.getOwnPropertySymbols(kafka).find(s => s.description === 'private:Kafka:createCluster')
  if (!factory) throw new Error('kafkajs internals changed: no private:Kafka:createCluster on the Kafka instance')
  return kafka[factory]({ metadataMaxAge: 300000, allowAutoTopicCreation: false })
}

// fetchFrom(cluster, partition, from, want): records with offset >= from
// (kafkajs returns whole batches, the consumer drops the records before
// the fetch offset; we do the same), fetching until want of them or 20 s.
async function fetchFrom(cluster, partition, from, want) {
  await cluster.addTargetTopic(TOPIC)
  await cluster.refreshMetadata()
  const meta = cluster.findTopicPartitionMetadata(TOPIC).find(p => p.partitionId === partition)
  const broker = await cluster.findBroker({ nodeId: meta.leader })
  const out = []
  const firstBatchOffsets = []
  let next = from
  const deadline = Date.now() + 20000
  while (out.length < want && Date.now() < deadline) {
    const resp = await broker.fetch({
      replicaId: -1,
      maxWaitTime: 300,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic: TOPIC, partitions: [{ partition, fetchOffset: String(next), maxBytes: 1 << 20 }] }],
    })
    const p = resp.responses[0].partitions[0]
    if (p.errorCode !== 0) throw new Error(`fetch error code ${p.errorCode} at offset ${next}`)
    if (firstBatchOffsets.length === 0 && p.messages.length) firstBatchOffsets.push(p.messages[0].offset)
    for (const r of p.messages) {
      if (r.isControlRecord || Number(r.offset) < next) continue
      out.push(r)
      next = Number(r.offset) + 1
    }
  }
  return { records: out, firstReturned: firstBatchOffsets[0] }
}

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  const cluster = createCluster()
  await cluster.connect()
  const P = codecs.length

  await step('createTopics', async () => {
    const created = await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: P, replicationFactor: 1,
        configEntries: [{ name: 'retention.ms', value: '86400000' }, { name: 'max.message.bytes', value: '600000' }] }],
      waitForLeaders: true,
      timeout: 10000,
    })
    eq('createTopics returns true for a new topic', true, created)
    const again = await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], timeout: 10000 })
    eq('createTopics of an existing topic returns false (TOPIC_ALREADY_EXISTS)', false, again)
    const topics = await admin.listTopics()
    check('listTopics has the topic', topics.includes(TOPIC), JSON.stringify(topics))
  })

  let leader = null
  await step('fetchTopicMetadata', async () => {
    const md = await admin.fetchTopicMetadata({ topics: [TOPIC] })
    eq('fetchTopicMetadata one topic', [TOPIC], md.topics.map(t => t.name))
    const parts = md.topics[0].partitions.sort((a, b) => a.partitionId - b.partitionId)
    eq('fetchTopicMetadata partition ids', [...Array(P).keys()], parts.map(p => p.partitionId))
    leader = parts[0].leader
    check('fetchTopicMetadata leader = replicas = isr, no error',
      parts.every(p => p.partitionErrorCode === 0 && p.leader === leader && leader >= 0 &&
        JSON.stringify(p.replicas) === `[${leader}]` && JSON.stringify(p.isr) === `[${leader}]`),
      JSON.stringify(parts))
  })

  await step('describeConfigs', async () => {
    const r = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPIC,
        configNames: ['retention.ms', 'max.message.bytes', 'cleanup.policy'] }],
      includeSynonyms: false,
    })
    eq('describeConfigs no error', [0], r.resources.map(x => x.errorCode))
    const got = {}
    for (const e of r.resources[0].configEntries) got[e.configName] = `${e.configValue}|${e.isDefault}`
    eq('describeConfigs exactly the three requested, values and defaults', {
      'cleanup.policy': 'delete|true', 'max.message.bytes': '600000|false', 'retention.ms': '86400000|false',
    }, Object.fromEntries(Object.entries(got).sort()))
  })

  const producer = () => kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner, // every message names its partition anyway
    allowAutoTopicCreation: false,
    idempotent: false,
    retry: { retries: 3 },
  })

  const sent = {}
  for (const [idx, c] of codecs.entries()) {
    await step(`produce ${c.name}`, async () => {
      const acks = c.name === 'none' ? 1 : -1
      const p = producer()
      await p.connect()
      const msgs = []
      for (let i = 0; i < N; i++) msgs.push(message(c.name, i, idx))
      // two sends: a batch of 10, then 5 more
      const r1 = await p.send({ topic: TOPIC, acks, timeout: 10000, compression: c.type, messages: msgs.slice(0, 10) })
      const r2 = await p.send({ topic: TOPIC, acks, timeout: 10000, compression: c.type, messages: msgs.slice(10) })
      await p.disconnect()
      eq(`produce ${c.name} acks=${acks} base offsets of two sends`,
        [[idx, 0, '0'], [idx, 0, '10']],
        [r1[0], r2[0]].map(x => [x.partition, x.errorCode, x.baseOffset]))
      sent[c.name] = msgs
    })
  }

  await step('fetchTopicOffsets', async () => {
    const offs = (await admin.fetchTopicOffsets(TOPIC)).sort((a, b) => a.partition - b.partition)
    eq('fetchTopicOffsets low 0 and high N on every partition',
      codecs.map((c, i) => [i, '0', String(N)]), offs.map(o => [o.partition, o.low, o.high]))
    const byTs = (await admin.fetchTopicOffsetsByTimestamp(TOPIC, base + 7500)).sort((a, b) => a.partition - b.partition)
    eq('fetchTopicOffsetsByTimestamp(base+7.5s) -> offset 8 on every partition',
      codecs.map((c, i) => [i, '8']), byTs.map(o => [o.partition, o.offset]))
  })

  for (const [idx, c] of codecs.entries()) {
    await step(`fetch ${c.name}`, async () => {
      if (!sent[c.name]) return fail(`fetch ${c.name}`, 'nothing was produced')
      const { records } = await fetchFrom(cluster, idx, 0, N)
      eq(`fetch ${c.name} from 0: records exact (offset, key, value, timestamp, headers)`,
        sent[c.name].map((m, i) => showWant(m, i)), records.map(showGot))
      const mid = await fetchFrom(cluster, idx, 12, N - 12)
      eq(`fetch ${c.name} from 12 (inside the second batch): offsets 12..N-1`,
        ['12', '13', '14'], mid.records.map(r => r.offset))
      eq(`fetch ${c.name} from 12: the broker returns the whole batch holding 12 (it starts at 10)`,
        '10', mid.firstReturned)
    })
  }

  await step('fetch out of range', async () => {
    try {
      await fetchFrom(cluster, 0, N + 10, 1)
      fail('fetch past the end', 'no error')
    } catch (e) {
      check('fetch past the end -> OFFSET_OUT_OF_RANGE', e.type === 'OFFSET_OUT_OF_RANGE' || /^fetch error code 1 /.test(e.message),
        `${e.type} ${e.message}`)
    }
  })

  await step('createPartitions', async () => {
    await admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: P + 2 }], timeout: 10000 })
    let n = 0
    for (let i = 0; i < 25; i++) {
      const md = await admin.fetchTopicMetadata({ topics: [TOPIC] })
      n = md.topics[0].partitions.length
      if (n === P + 2) break
      await sleep(200)
    }
    eq('createPartitions: metadata shows the new count', P + 2, n)
    // Kafka may answer NOT_LEADER_OR_FOLLOWER for a moment after the change
    let offs = []
    for (let i = 0; i < 25; i++) {
      try {
        offs = (await admin.fetchTopicOffsets(TOPIC)).sort((a, b) => a.partition - b.partition)
        break
      } catch (e) {
        if (!/not the leader/i.test(e.message)) throw e
        await sleep(200)
      }
    }
    eq('fetchTopicOffsets of the new partitions', [[P, '0', '0'], [P + 1, '0', '0']],
      offs.slice(P).map(o => [o.partition, o.low, o.high]))
    try {
      await admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: 1 }], timeout: 10000 })
      fail('createPartitions decrease', 'no error')
    } catch (e) {
      check('createPartitions decrease -> INVALID_PARTITIONS', /INVALID_PARTITIONS/.test(JSON.stringify(e.errors || e.type || e.message)) ||
        /INVALID_PARTITIONS|partitions/i.test(`${e.type} ${e.message}`), `${e.name} ${e.type} ${e.message}`)
    }
  })

  await step('deleteTopics', async () => {
    await admin.deleteTopics({ topics: [TOPIC], timeout: 10000 })
    let gone = false
    for (let i = 0; i < 50 && !gone; i++) {
      gone = !(await admin.listTopics()).includes(TOPIC)
      if (!gone) await sleep(200)
    }
    check('deleteTopics: gone from listTopics', gone, 'still listed after 10 s')
    try {
      await admin.deleteTopics({ topics: [TOPIC], timeout: 10000 })
      fail('deleteTopics of a missing topic', 'no error')
    } catch (e) {
      check('deleteTopics of a missing topic -> UNKNOWN_TOPIC_OR_PARTITION',
        /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition/.test(`${e.type} ${e.message}`), `${e.type} ${e.message}`)
    }
  })

  await cluster.disconnect()
  await admin.disconnect()
}

main()
  .catch(e => fail('main', e && e.stack ? e.stack : e))
  .then(() => {
    clearTimeout(watchdog)
    console.log(failures === 0 ? 'all checks passed' : `${failures} checks failed`)
    process.exit(failures === 0 ? 0 : 1)
  })
