// kafkajs_groups_it.js: a kafkajs consumer group of three against a broker.
//
//   NODE_PATH=tests/tools/node/node_modules node kafkajs_groups_it.js BOOTSTRAP WORKDIR
//
// The driver (this process) creates a 6-partition topic, forks three
// members (this script with "member NAME"), produces in phases and, after
// each rebalance, checks with DescribeGroups that the group is Stable with
// the expected members and that every partition is assigned to exactly one
// of them. Member 0 leaves (SIGTERM: disconnect, LeaveGroup); member 1
// crashes (SIGKILL: the coordinator notices by session timeout). The last
// member reads on until the committed offsets are the end offsets.
//
// Each member appends "R p o t" when it receives a record and "C p next t"
// once the coordinator acknowledged the commit of next = o + 1 (t: wall
// clock ms). The assertion on the union of all members' logs:
//   - no loss: every produced record was received by some member;
//   - committed work is never redone: no record is received after a commit
//     covering it (same partition, next > o) was acknowledged. Duplicates
//     are therefore only records received and not yet committed when their
//     owner crashed or lost the partition (a refused commit).
// Prints "ok NAME" / "FAIL NAME: detail" (client_checks.sh).

const fs = require('fs')
const path = require('path')
const { fork } = require('child_process')
const { Kafka, logLevel, AssignerProtocol } = require('kafkajs')

const bootstrap = process.argv[2]
const work = process.argv[3]
const mode = process.argv[4] || 'driver'
const TOPIC = 'it-kjs-group'
const GROUP = 'it-kjs-group'
const NPART = 6
const SESSION_MS = 6000

const kafka = new Kafka({
  clientId: 'kjs-group-' + (process.argv[5] || 'driver'),
  brokers: [bootstrap],
  logLevel: logLevel.NOTHING,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 }
})

async function member (name) {
  const log = path.join(work, name + '.log')
  const consumer = kafka.consumer({
    groupId: GROUP,
    sessionTimeout: SESSION_MS,
    heartbeatInterval: 500,
    rebalanceTimeout: 20000,
    maxWaitTimeInMs: 200
  })
  process.on('SIGTERM', async () => {
    try { await consumer.disconnect() } catch (e) {}
    process.exit(0)
  })
  await consumer.connect()
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const o = Number(message.offset)
      fs.appendFileSync(log, `R ${partition} ${o} ${Date.now()}\n`)
      try {
        await consumer.commitOffsets([{ topic: TOPIC, partition, offset: String(o + 1) }])
        fs.appendFileSync(log, `C ${partition} ${o + 1} ${Date.now()}\n`)
      } catch (e) {
        fs.appendFileSync(log, `E ${partition} ${o + 1} ${e.type || e.message}\n`)
      }
    }
  })
}

let failures = 0
function ok (n) { console.log('ok ' + n) }
function fail (n, d) { failures++; console.log('FAIL ' + n + ': ' + String(d).replace(/\n/g, ' ')) }
function check (n, c, d) { c ? ok(n) : fail(n, d) }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function waitStable (admin, members, what) {
  const deadline = Date.now() + 45000
  let last = ''
  while (Date.now() < deadline) {
    const { groups } = await admin.describeGroups([GROUP])
    const g = groups[0]
    const owners = {}
    let good = g.state === 'Stable' && g.members.length === members
    for (const m of g.members) {
      const a = m.memberAssignment && m.memberAssignment.length
        ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null
      const parts = (a && a.assignment[TOPIC]) || []
      if (!parts.length) good = false
      for (const p of parts) (owners[p] = owners[p] || []).push(m.clientId)
    }
    last = `${g.state} ${g.members.length} members ${JSON.stringify(owners)}`
    if (good) {
      const once = Array.from({ length: NPART }, (_, p) => (owners[p] || []).length === 1)
      check(`${what}: Stable with ${members} members, every partition owned by exactly one`,
        once.every(x => x), last)
      return
    }
    await sleep(250)
  }
  fail(`${what}: Stable with ${members} members`, 'not within 45 s: ' + last)
}

async function driver () {
  const watchdog = setTimeout(() => { console.log('FAIL watchdog: 150 s'); process.exit(1) }, 150000)
  const admin = kafka.admin()
  const producer = kafka.producer()
  const kids = {}
  try {
    await admin.connect()
    await producer.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: NPART }], waitForLeaders: true })
    let sent = 0
    const produce = async n => {
      const messages = []
      for (let i = 0; i < n; i++) messages.push({ partition: (sent + i) % NPART, value: 'm' + (sent + i) })
      await producer.send({ topic: TOPIC, acks: -1, messages })
      sent += n
    }
    await produce(300)
    for (const n of ['m0', 'm1', 'm2']) {
      kids[n] = fork(__filename, [bootstrap, work, 'member', n], { stdio: 'inherit' })
    }
    await waitStable(admin, 3, 'three members')
    await produce(120)
    kids.m0.kill('SIGTERM')
    await waitStable(admin, 2, 'm0 left')
    await produce(120)
    await sleep(1000)
    kids.m1.kill('SIGKILL')
    await waitStable(admin, 1, 'm1 crashed (session timeout)')
    await produce(120)
    // The last member reads on until the commits reach the end offsets.
    const ends = await admin.fetchTopicOffsets(TOPIC)
    const want = {}
    for (const e of ends) want[e.partition] = Number(e.offset)
    const deadline = Date.now() + 40000
    let got = {}
    while (Date.now() < deadline) {
      const r = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] })
      got = {}
      for (const p of r[0].partitions) got[p.partition] = Number(p.offset)
      if (JSON.stringify(got) === JSON.stringify(want)) break
      await sleep(300)
    }
    check('committed offsets reach the end offsets', JSON.stringify(got) === JSON.stringify(want),
      `got ${JSON.stringify(got)} want ${JSON.stringify(want)}`)
    kids.m2.kill('SIGTERM')
    await sleep(500)

    // The union of what was consumed.
    const recv = {} // "p/o" -> [times]
    const acks = [] // [p, next, t]
    for (const n of ['m0', 'm1', 'm2']) {
      const f = path.join(work, n + '.log')
      if (!fs.existsSync(f)) continue
      for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
        const [k, p, o, t] = line.split(' ')
        if (k === 'R') (recv[p + '/' + o] = recv[p + '/' + o] || []).push(Number(t))
        if (k === 'C') acks.push([Number(p), Number(o), Number(t)])
      }
    }
    const missing = []
    for (let p = 0; p < NPART; p++) for (let o = 0; o < want[p]; o++) if (!recv[p + '/' + o]) missing.push(p + '/' + o)
    check(`no record lost: all ${sent} received`, missing.length === 0, 'missing ' + missing.slice(0, 10))
    const redone = []
    let dups = 0
    for (const [k, ts] of Object.entries(recv)) {
      if (ts.length > 1) dups++
      const [p, o] = k.split('/').map(Number)
      // the first acknowledged commit covering it
      let tc = Infinity
      for (const [ap, next, t] of acks) if (ap === p && next > o && t < tc) tc = t
      if (ts.some(t => t > tc)) redone.push(k)
    }
    check('no record received again after a commit covering it was acknowledged',
      redone.length === 0, 'redone ' + redone.slice(0, 10))
    console.log(`records ${sent}, received more than once ${dups}`)
  } catch (e) {
    fail('kafkajs group', e.stack || e)
  } finally {
    for (const k of Object.values(kids)) { try { k.kill('SIGKILL') } catch (e) {} }
    await producer.disconnect().catch(() => {})
    await admin.disconnect().catch(() => {})
    clearTimeout(watchdog)
  }
  process.exit(failures ? 1 : 0)
}

if (mode === 'member') {
  member(process.argv[5]).catch(e => { console.error('member ' + process.argv[5] + ': ' + e); process.exit(2) })
} else {
  driver()
}
