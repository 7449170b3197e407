// franz_kip848_it: KIP-848 consumer groups with franz-go (kgo.ConsumerGroup
// with kgo.ServerSideBalancer(): ConsumerGroupHeartbeat v1, the broker
// assigns) against a broker.
//
//	cd tests/tools/go && go build -o OUT ../../integration/go/franz_kip848_it.go
//	OUT BOOTSTRAP
//
// Prints one line per check, "ok NAME" or "FAIL NAME: detail"
// (tests/integration/client_checks.sh). Exit status 0 only when every check
// passed.
//
//   - one member consumes every record of a 4-partition topic and commits;
//     ConsumerGroupDescribe says the group is a consumer (KIP-848) group;
//   - a second member joins: at no sample is a partition owned by both
//     (OnPartitionsAssigned / Revoked), each partition the second member gets
//     was revoked by the first before, and they end with two each;
//   - the first member leaves: the second owns all four; committed offsets
//     are the ends.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	nparts   = 4
	per      = 10
	callTime = 20 * time.Second
	waitTime = 60 * time.Second
)

var (
	bootstrap string
	topic     = fmt.Sprintf("franz-k848-%d", os.Getpid())
	group     = fmt.Sprintf("franz-k848-g-%d", os.Getpid())
	failures  int

	mu        sync.Mutex
	seq       int
	owner     = map[int32]string{} // partition -> member owning it now
	overlap   []string
	revokedAt = map[int32]int{}
	assignAt  = map[string]map[int32]int{}
	seen      = map[string]bool{}
)

func ok(name string) { fmt.Println("ok " + name) }

func fail(name, format string, args ...any) {
	failures++
	fmt.Println("FAIL " + name + ": " + strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " "))
}

func check(name string, cond bool, format string, args ...any) {
	if cond {
		ok(name)
	} else {
		fail(name, format, args...)
	}
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
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
	if os.Getenv("FRANZ_IT_DEBUG") != "" {
		o = append(o, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, nil)))
	}
	return o
}

type member struct {
	name string
	cl   *kgo.Client
	stop chan struct{}
	done chan struct{}
}

func owned(name string) int {
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, o := range owner {
		if o == name {
			n++
		}
	}
	return n
}

func newMember(name string) (*member, error) {
	m := &member{name: name, stop: make(chan struct{}), done: make(chan struct{})}
	assignAt[name] = map[int32]int{}
	cl, err := kgo.NewClient(append(baseOpts(name),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ServerSideBalancer(),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range a[topic] {
				seq++
				if o, ok := owner[p]; ok && o != name {
					overlap = append(overlap, fmt.Sprintf("%s got %d owned by %s", name, p, o))
				}
				owner[p] = name
				assignAt[name][p] = seq
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range r[topic] {
				seq++
				if owner[p] == name {
					delete(owner, p)
				}
				revokedAt[p] = seq
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range l[topic] {
				if owner[p] == name {
					delete(owner, p)
				}
			}
		}),
	)...)
	if err != nil {
		return nil, err
	}
	m.cl = cl
	go func() {
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
			mu.Lock()
			for _, r := range fs.Records() {
				seen[string(r.Value)] = true
			}
			mu.Unlock()
			if len(fs.Records()) > 0 {
				c, cc := ctxT()
				if err := m.cl.CommitUncommittedOffsets(c); err != nil {
					fmt.Fprintf(os.Stderr, "%s commit: %v\n", name, err)
				}
				cc()
			}
		}
	}()
	return m, nil
}

func (m *member) close() {
	close(m.stop)
	<-m.done
	m.cl.Close()
}

func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(waitTime)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

func main() {
	bootstrap = os.Args[1]
	run()
	if failures == 0 {
		fmt.Println("all checks passed")
		os.Exit(0)
	}
	fmt.Printf("%d checks failed\n", failures)
	os.Exit(1)
}

func run() {
	admCl, err := kgo.NewClient(baseOpts("franz-k848-admin")...)
	if err != nil {
		fail("admin client", "%v", err)
		return
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ctx, cancel := ctxT()
	defer cancel()
	if _, err := adm.CreateTopic(ctx, nparts, 1, nil, topic); err != nil {
		fail("create topic", "%v", err)
		return
	}
	pcl, err := kgo.NewClient(append(baseOpts("franz-k848-producer"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		fail("producer", "%v", err)
		return
	}
	var recs []*kgo.Record
	for p := int32(0); p < nparts; p++ {
		for i := 0; i < per; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	err = pcl.ProduceSync(ctx, recs...).FirstErr()
	pcl.Close()
	if err != nil {
		fail("produce", "%v", err)
		return
	}
	ok(fmt.Sprintf("produce %d records", nparts*per))

	a, err := newMember("a")
	if err != nil {
		fail("member a", "%v", err)
		return
	}
	check("first member owns all partitions and consumed every record", waitFor(func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == nparts*per
	}) && waitFor(func() bool { return owned("a") == nparts }), "owned %d seen %d", owned("a"), len(seen))

	// The group must be a KIP-848 consumer group, not a classic one.
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, admCl)
	if err != nil {
		fail("ConsumerGroupDescribe", "%v", err)
	} else {
		g := resp.Groups[0]
		check("ConsumerGroupDescribe: a consumer group with one member", g.ErrorCode == 0 && len(g.Members) == 1,
			"error %d members %d", g.ErrorCode, len(g.Members))
	}

	b, err := newMember("b")
	if err != nil {
		fail("member b", "%v", err)
		a.close()
		return
	}
	check("two members: two partitions each", waitFor(func() bool {
		return owned("a") == nparts/2 && owned("b") == nparts/2
	}), "a %d b %d", owned("a"), owned("b"))
	mu.Lock()
	check("no partition owned by both members", len(overlap) == 0, "%v", overlap)
	bad := []string{}
	for p, at := range assignAt["b"] {
		if r, ok := revokedAt[p]; !ok || r > at {
			bad = append(bad, fmt.Sprintf("%d revoked@%d assigned@%d", p, r, at))
		}
	}
	mu.Unlock()
	check("the second member's partitions were revoked from the first before", len(bad) == 0, "%v", bad)

	a.close()
	check("after the first member leaves the second owns all", waitFor(func() bool { return owned("b") == nparts }),
		"b %d", owned("b"))
	b.close()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		fail("fetch offsets", "%v", err)
		return
	}
	good := 0
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.At == per {
			good++
		}
	})
	check("committed offsets at the ends", good == nparts, "%d of %d at %d", good, nparts, per)
}
