// franz_groups_it: consumer group checks for franz-go (kgo.ConsumerGroup,
// classic protocol, cooperative-sticky balancer, auto commit off) against a
// broker.
//
//	cd tests/tools/go && go build -o OUT ../../integration/go/franz_groups_it.go
//	OUT BOOTSTRAP
//
// Prints one line per check, "ok NAME" or "FAIL NAME: detail", which
// tests/integration/suite_groups_franz.sh counts. Exit status 0 only when
// every check passed.
//
//   - one member consumes records 0..49 of every partition of a 6-partition
//     topic exactly once and commits them (kgo.CommitRecords, synchronous);
//     the committed offsets (kadm.FetchOffsets) are the ends;
//   - a second member joins: at no sample is a partition owned by both (the
//     OnPartitionsAssigned / Revoked callbacks), once settled every
//     partition is owned by exactly one of them, and DescribeGroups agrees
//     (Stable, protocol cooperative-sticky, two members, each partition
//     assigned once); new records 50..99 are consumed exactly once in all,
//     each by the owner of its partition; the committed offsets are the ends;
//   - both close (LeaveGroup); records 100..149; a new member resumes exactly
//     at the committed offsets: it consumes 100..149 and nothing else.
//
// franz-go runs KIP-848 only with kgo.ServerSideBalancer(), which is not
// set: the classic JoinGroup/SyncGroup protocol runs. The members poll with
// kgo.BlockRebalanceOnPoll and commit what each poll returned before
// allowing a rebalance, so no record is handed to two members. Every call is
// bounded by a context deadline.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	nparts   = 6
	batch    = 50
	callTime = 20 * time.Second
	waitTime = 60 * time.Second
)

var (
	bootstrap string
	topic     = fmt.Sprintf("franz-groups-%d", os.Getpid())
	group     = fmt.Sprintf("franz-group-%d", os.Getpid())
	failures  int
)

func ok(name string) { fmt.Println("ok " + name) }

func fail(name, format string, args ...any) {
	failures++
	fmt.Println("FAIL " + name + ": " + strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " "))
}

func ctxT() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTime)
}

func baseOpts(id string) []kgo.Opt {
	o := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID(id),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(15 * time.Second),
		kgo.RequestTimeoutOverhead(10 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
	if os.Getenv("FRANZ_IT_DEBUG") != "" {
		o = append(o, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, nil)))
	}
	return o
}

func value(p int32, o int64) string { return fmt.Sprintf("p%d-o%d", p, o) }

// produce writes records first..first+batch-1 into every partition and
// checks the acknowledged offsets.
func produce(first int64) error {
	cl, err := kgo.NewClient(append(baseOpts("franz-groups-producer"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableIdempotentWrite(),
		kgo.ProduceRequestTimeout(10*time.Second),
		kgo.RecordRetries(10))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := ctxT()
	defer cancel()
	var recs []*kgo.Record
	for p := int32(0); p < nparts; p++ {
		for o := first; o < first+batch; o++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(value(p, o))})
		}
	}
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return err
	}
	for _, r := range res {
		if want := string(r.Record.Value); want != value(r.Record.Partition, r.Record.Offset) {
			return fmt.Errorf("record %q acknowledged at %d/%d", want, r.Record.Partition, r.Record.Offset)
		}
	}
	return nil
}

type po struct {
	p int32
	o int64
}

// member is one group member polling in its own goroutine.
type member struct {
	name  string
	cl    *kgo.Client
	mu    sync.Mutex
	owned map[int32]bool
	seen  []po
	errs  []string
	lost  int
	stop  chan struct{}
	done  chan struct{}
}

func newMember(name string) (*member, error) {
	m := &member{name: name, owned: map[int32]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	cl, err := kgo.NewClient(append(baseOpts(name),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(time.Second),
		kgo.RebalanceTimeout(30*time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			for _, p := range a[topic] {
				m.owned[p] = true
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.owned, p)
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			m.mu.Lock()
			m.lost++
			for _, p := range l[topic] {
				delete(m.owned, p)
			}
			m.mu.Unlock()
		}),
	)...)
	if err != nil {
		return nil, err
	}
	m.cl = cl
	go m.run()
	return m, nil
}

// run polls until stopped; each poll's records are checked against the
// partitions owned right then (no rebalance can run between the poll and
// AllowRebalance) and committed synchronously before the next rebalance.
func (m *member) run() {
	defer close(m.done)
	for {
		select {
		case <-m.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := m.cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				m.note("fetch error %s/%d: %v", t, p, err)
			}
		})
		recs := fs.Records()
		m.mu.Lock()
		for _, r := range recs {
			if !m.owned[r.Partition] {
				m.errs = append(m.errs, fmt.Sprintf("got partition %d it does not own", r.Partition))
			}
			if string(r.Value) != value(r.Partition, r.Offset) {
				m.errs = append(m.errs, fmt.Sprintf("value %q at %d/%d", r.Value, r.Partition, r.Offset))
			}
			m.seen = append(m.seen, po{r.Partition, r.Offset})
		}
		m.mu.Unlock()
		if len(recs) > 0 {
			cctx, ccancel := ctxT()
			if err := m.cl.CommitRecords(cctx, recs...); err != nil {
				m.note("commit: %v", err)
			}
			ccancel()
		}
		m.cl.AllowRebalance()
	}
}

func (m *member) note(format string, args ...any) {
	m.mu.Lock()
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

func (m *member) ownedList() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.owned {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (m *member) nseen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// take returns and clears what was consumed and the errors noted.
func (m *member) take() ([]po, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, e := m.seen, m.errs
	m.seen, m.errs = nil, nil
	if m.lost > 0 {
		e = append(e, fmt.Sprintf("partitions lost %d times", m.lost))
	}
	return s, e
}

// close stops polling and closes the client (LeaveGroup).
func (m *member) close() {
	close(m.stop)
	select {
	case <-m.done:
	case <-time.After(callTime):
	}
	m.cl.AllowRebalance()
	m.cl.Close()
}

// exactly: seen holds every offset first..last-1 of every partition once.
func exactly(seen []po, first, last int64) error {
	count := map[po]int{}
	for _, x := range seen {
		count[x]++
	}
	var dup, extra, missing []po
	for x, n := range count {
		if n > 1 {
			dup = append(dup, x)
		}
		if x.o < first || x.o >= last || x.p < 0 || x.p >= nparts {
			extra = append(extra, x)
		}
	}
	for p := int32(0); p < nparts; p++ {
		for o := first; o < last; o++ {
			if count[po{p, o}] == 0 {
				missing = append(missing, po{p, o})
			}
		}
	}
	if len(dup)+len(extra)+len(missing) > 0 {
		return fmt.Errorf("%d records, want %d; duplicates %v, unexpected %v, missing %v",
			len(seen), int64(nparts)*(last-first), head(dup), head(extra), head(missing))
	}
	return nil
}

func head(xs []po) []po {
	sort.Slice(xs, func(i, j int) bool { return xs[i].p < xs[j].p || xs[i].p == xs[j].p && xs[i].o < xs[j].o })
	if len(xs) > 6 {
		return xs[:6]
	}
	return xs
}

func waitFor(what string, cond func() bool) error {
	end := time.Now().Add(waitTime)
	for time.Now().Before(end) {
		if cond() {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s: not within %v", what, waitTime)
}

// settle samples the members' ownership until every partition is owned by
// exactly one member, each owns some, and nothing changed for 3 s; at no
// sample may a partition be owned twice.
func settle(ms []*member) (map[string][]int32, error) {
	end := time.Now().Add(waitTime)
	var last string
	since := time.Now()
	for time.Now().Before(end) {
		owners := map[int32]string{}
		snap := map[string][]int32{}
		all := true
		for _, m := range ms {
			o := m.ownedList()
			snap[m.name] = o
			all = all && len(o) > 0
			for _, p := range o {
				if prev, dup := owners[p]; dup {
					return nil, fmt.Errorf("partition %d owned by %s and %s", p, prev, m.name)
				}
				owners[p] = m.name
			}
		}
		key := fmt.Sprint(snap)
		if key != last {
			last, since = key, time.Now()
		} else if time.Since(since) >= 3*time.Second && all && len(owners) == nparts {
			return snap, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("the group did not settle: %s", last)
}

func committed(adm *kadm.Client, want int64) error {
	ctx, cancel := ctxT()
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return err
	}
	var bad []string
	for p := int32(0); p < nparts; p++ {
		o, exists := offs.Lookup(topic, p)
		if !exists || o.Err != nil || o.At != want {
			bad = append(bad, fmt.Sprintf("%d: %v %d %v", p, exists, o.At, o.Err))
		}
	}
	if bad != nil {
		return fmt.Errorf("committed offsets, want %d everywhere: %v", want, bad)
	}
	return nil
}

// describe checks DescribeGroups: Stable, cooperative-sticky, the members
// named and their assignments exactly the owners seen by the callbacks.
func describe(adm *kadm.Client, owners map[string][]int32) error {
	ctx, cancel := ctxT()
	defer cancel()
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return err
	}
	d, exists := ds[group]
	if !exists || d.Err != nil {
		return fmt.Errorf("group not described: %v", d.Err)
	}
	if d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "cooperative-sticky" {
		return fmt.Errorf("state %q protocol type %q protocol %q", d.State, d.ProtocolType, d.Protocol)
	}
	got := map[string][]int32{}
	for _, mem := range d.Members {
		c, isConsumer := mem.Assigned.AsConsumer()
		if !isConsumer {
			return fmt.Errorf("member %s: assignment not a consumer assignment", mem.ClientID)
		}
		var ps []int32
		for _, t := range c.Topics {
			if t.Topic == topic {
				ps = append(ps, t.Partitions...)
			}
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		got[mem.ClientID] = ps
	}
	if fmt.Sprint(got) != fmt.Sprint(owners) {
		return fmt.Errorf("DescribeGroups assignments %v, the members own %v", got, owners)
	}
	return nil
}

func step(name string, fn func() error) bool {
	if err := fn(); err != nil {
		fail(name, "%v", err)
		return false
	}
	ok(name)
	return true
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: franz_groups_it BOOTSTRAP")
		os.Exit(2)
	}
	bootstrap = os.Args[1]
	acl, err := kgo.NewClient(baseOpts("franz-groups-admin")...)
	if err != nil {
		fmt.Println("FAIL admin client: " + err.Error())
		os.Exit(1)
	}
	defer acl.Close()
	adm := kadm.NewClient(acl)

	if !step("create topic, produce 0..49", func() error {
		ctx, cancel := ctxT()
		defer cancel()
		if _, err := adm.CreateTopic(ctx, nparts, 1, nil, topic); err != nil {
			return err
		}
		return produce(0)
	}) {
		os.Exit(1)
	}

	var a, b *member
	if !step("one member consumes 0..49 exactly once and commits (CommitRecords)", func() error {
		var err error
		if a, err = newMember("a"); err != nil {
			return err
		}
		if err := waitFor("a consumes 0..49", func() bool { return a.nseen() >= nparts*batch }); err != nil {
			return err
		}
		time.Sleep(time.Second) // nothing more arrives
		seen, errs := a.take()
		if errs != nil {
			return fmt.Errorf("a: %v", errs)
		}
		if fmt.Sprint(a.ownedList()) != "[0 1 2 3 4 5]" {
			return fmt.Errorf("a alone owns %v", a.ownedList())
		}
		if err := exactly(seen, 0, batch); err != nil {
			return err
		}
		return committed(adm, batch)
	}) {
		os.Exit(1)
	}

	var owners map[string][]int32
	step("a second member joins: partitions split, each owned once, DescribeGroups agrees", func() error {
		var err error
		if b, err = newMember("b"); err != nil {
			return err
		}
		if owners, err = settle([]*member{a, b}); err != nil {
			return err
		}
		sa, ea := a.take()
		sb, eb := b.take()
		if ea != nil || eb != nil {
			return fmt.Errorf("a: %v b: %v", ea, eb)
		}
		if len(sa)+len(sb) > 0 {
			return fmt.Errorf("records consumed again after their commit: %v %v", head(sa), head(sb))
		}
		return describe(adm, owners)
	})
	step("two members consume 50..99 exactly once, each its own partitions; commits", func() error {
		if b == nil || owners == nil {
			return errors.New("no settled group")
		}
		if err := produce(batch); err != nil {
			return err
		}
		if err := waitFor("a and b consume 50..99", func() bool {
			return a.nseen()+b.nseen() >= nparts*batch
		}); err != nil {
			return err
		}
		time.Sleep(time.Second)
		sa, ea := a.take()
		sb, eb := b.take()
		if ea != nil || eb != nil {
			return fmt.Errorf("a: %v b: %v", ea, eb)
		}
		if err := exactly(append(append([]po{}, sa...), sb...), batch, 2*batch); err != nil {
			return err
		}
		for name, seen := range map[string][]po{"a": sa, "b": sb} {
			mine := map[int32]bool{}
			for _, p := range owners[name] {
				mine[p] = true
			}
			for _, x := range seen {
				if !mine[x.p] {
					return fmt.Errorf("%s consumed partition %d, owns %v", name, x.p, owners[name])
				}
			}
		}
		return committed(adm, 2*batch)
	})

	step("both close; a new member resumes exactly at the committed offsets", func() error {
		if b != nil {
			b.close()
		}
		a.close()
		if err := produce(2 * batch); err != nil {
			return err
		}
		c, err := newMember("c")
		if err != nil {
			return err
		}
		defer c.close()
		if err := waitFor("c consumes 100..149", func() bool { return c.nseen() >= nparts*batch }); err != nil {
			return err
		}
		time.Sleep(time.Second)
		seen, errs := c.take()
		if errs != nil {
			return fmt.Errorf("c: %v", errs)
		}
		if err := exactly(seen, 2*batch, 3*batch); err != nil {
			return err
		}
		if err := committed(adm, 3*batch); err != nil {
			return err
		}
		return describe(adm, map[string][]int32{"c": {0, 1, 2, 3, 4, 5}})
	})

	if failures > 0 {
		os.Exit(1)
	}
}
