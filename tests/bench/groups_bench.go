// groups_bench: the consumer group figures of tests/bench/groups.sh, with
// franz-go: the classic protocol (client-side balancers) and KIP-848
// ("consumer" protocol: kgo.ServerSideBalancer, ConsumerGroupHeartbeat, the
// broker's uniform assignor).
//
//	cd tests/tools/go && go build -o OUT ../../bench/groups_bench.go
//	OUT rebalance BOOTSTRAP BALANCER MEMBERS PARTITIONS REPS HEARTBEAT_MS
//	OUT commits BOOTSTRAP COMMITTERS SECONDS
//
// rebalance: MEMBERS consumers of one group subscribe to a fresh topic of
// PARTITIONS partitions; BALANCER is range or cooperative (classic protocol,
// kgo.RangeBalancer / kgo.CooperativeStickyBalancer, heartbeat every
// HEARTBEAT_MS) or consumer (KIP-848: kgo.ServerSideBalancer with the sticky
// balancer first, so franz-go asks for the broker's "uniform" assignor; the
// broker sets the heartbeat interval, group.consumer.heartbeat.interval.ms,
// and HEARTBEAT_MS is only the phase range below). Once the group is stable,
// REPS times: one more member joins, then it leaves (Close: a LeaveGroup, or
// a ConsumerGroupHeartbeat with member epoch -1).
//
// "Stable" is the first instant at which, by the members' own
// OnPartitionsAssigned / Revoked / Lost callbacks, every partition is owned
// by exactly one live member and every live member owns floor(P/N) or
// ceil(P/N) of them (the balanced end state of all three assignors here; a
// KIP-848 member that got part of its share while others still hold
// theirs is not stable). Each time is from the action (kgo.NewClient of the
// new member, Close of it) to that instant; the group must then stay so for
// 1 s. For consumer groups the broker must also confirm it: a
// ConsumerGroupDescribe (polled every 20 ms from that instant) answering
// state Stable, assignment epoch = group epoch = every member's epoch,
// exactly the live members (by client id), each member's assignment equal
// to its target and to what its callbacks own; confirm_ms is the time from
// the action to that answer ("none" when it did not come within 30 s, with
// the last answer on stderr). Each action comes at a random point of
// HEARTBEAT_MS (members learn of a rebalance at their next heartbeat, so
// the times are about that interval's remainder plus the rounds). Prints
// key=value lines: initial_ms, join_ms and leave_ms (every repetition,
// comma-separated), join_moved and leave_moved (how many partitions have
// another owner at the stable instant after the action than at the one
// before it), and for consumer groups initial_confirm_ms, join_confirm_ms,
// leave_confirm_ms. GROUPS_BENCH_TRACE=1 prints every new describe answer
// (state, epochs, members per member epoch) while confirming, on stderr.
//
// commits: COMMITTERS goroutines, each with its own client (connection) and
// group, send synchronous OffsetCommit requests (one partition each, a new
// offset every time, generation -1: a group without members, as an admin
// or a standalone consumer commits) for SECONDS; prints commits (total),
// commits_per_s and the latency percentiles p50_us, p99_us. Any error
// answer stops the run with exit status 1.
package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const callTime = 30 * time.Second

// GROUPS_BENCH_TRACE=1: every new ConsumerGroupDescribe answer while
// confirming, on stderr.
var trace = os.Getenv("GROUPS_BENCH_TRACE") != ""

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "groups_bench: "+format+"\n", args...)
	os.Exit(1)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		die("not a number: %q", s)
	}
	return n
}

func opts(bootstrap, id string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID(id),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(20 * time.Second),
	}
}

func createTopic(bootstrap, topic string, parts int) {
	cl, err := kgo.NewClient(opts(bootstrap, "groups-bench-admin")...)
	if err != nil {
		die("%v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), callTime)
	defer cancel()
	r, err := kadm.NewClient(cl).CreateTopic(ctx, int32(parts), 1, nil, topic)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		die("create topic %s: %v", topic, err)
	}
}

// ---------------------------------------------------------------- rebalance

type owners struct {
	mu    sync.Mutex
	owned map[string]map[int32]bool // member -> partitions
}

func (o *owners) set(m string, ps []int32, on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.owned[m] == nil {
		o.owned[m] = map[int32]bool{}
	}
	for _, p := range ps {
		if on {
			o.owned[m][p] = true
		} else {
			delete(o.owned[m], p)
		}
	}
}

// snapshot: partition -> owning member.
func (o *owners) snapshot() map[int32]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[int32]string{}
	for name, ps := range o.owned {
		for p := range ps {
			m[p] = name
		}
	}
	return m
}

// moved: how many partitions have another owner in b than in a.
func moved(a, b map[int32]string) string {
	n := 0
	for p, o := range b {
		if a[p] != o {
			n++
		}
	}
	return strconv.Itoa(n)
}

// stable: the members named own every partition exactly once, each
// floor(parts/members) or ceil(parts/members) of them.
func (o *owners) stable(members map[string]bool, parts int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	seen := make([]bool, parts)
	n := 0
	lo := parts / len(members)
	hi := (parts + len(members) - 1) / len(members)
	for m := range members {
		ps := o.owned[m]
		if len(ps) == 0 || len(ps) < lo || len(ps) > hi {
			return false
		}
		for p := range ps {
			if p < 0 || int(p) >= parts || seen[p] {
				return false
			}
			seen[p] = true
			n++
		}
	}
	return n == parts
}

type member struct {
	name string
	cl   *kgo.Client
	stop context.CancelFunc
	done chan struct{}
}

func rebalance(bootstrap, balancer string, nmembers, parts, reps, hbMs int) {
	tag := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1000000)
	topic, group := "bench-groups-"+tag, "bench-group-"+tag
	createTopic(bootstrap, topic, parts)
	var bal kgo.GroupBalancer
	switch balancer {
	case "range":
		bal = kgo.RangeBalancer()
	case "cooperative":
		bal = kgo.CooperativeStickyBalancer()
	case "consumer": // KIP-848; a sticky balancer first asks for "uniform"
		bal = kgo.CooperativeStickyBalancer()
	default:
		die("balancer %q: range, cooperative or consumer", balancer)
	}
	kip848 := balancer == "consumer"
	own := &owners{owned: map[string]map[int32]bool{}}
	live := map[string]bool{}
	var liveMu sync.Mutex

	start := func(name string) *member {
		o := append(opts(bootstrap, name),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topic),
			kgo.Balancers(bal),
			kgo.DisableAutoCommit(),
		)
		if kip848 {
			o = append(o, kgo.ServerSideBalancer())
		}
		o = append(o,
			kgo.SessionTimeout(30*time.Second),
			kgo.HeartbeatInterval(time.Duration(hbMs)*time.Millisecond),
			kgo.RebalanceTimeout(60*time.Second),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
				own.set(name, a[topic], true)
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
				own.set(name, r[topic], false)
			}),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
				own.set(name, l[topic], false)
			}),
		)
		cl, err := kgo.NewClient(o...)
		if err != nil {
			die("%v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		m := &member{name: name, cl: cl, stop: cancel, done: make(chan struct{})}
		go func() { // a consumer polls; the topic is empty
			defer close(m.done)
			for ctx.Err() == nil {
				cl.PollFetches(ctx)
			}
		}()
		return m
	}
	stop := func(m *member) {
		m.stop()
		<-m.done
		m.cl.Close() // LeaveGroup
		own.mu.Lock()
		delete(own.owned, m.name)
		own.mu.Unlock()
	}
	admin, err := kgo.NewClient(opts(bootstrap, "groups-bench-describe")...)
	if err != nil {
		die("%v", err)
	}
	defer admin.Close()
	var topicID [16]byte
	if kip848 {
		ctx, cancel := context.WithTimeout(context.Background(), callTime)
		td, err := kadm.NewClient(admin).ListTopics(ctx, topic)
		cancel()
		if err != nil || td[topic].Err != nil {
			die("metadata of %s: %v %v", topic, err, td[topic].Err)
		}
		topicID = td[topic].ID
	}
	// confirm: for consumer groups, the time from t0 to the first
	// ConsumerGroupDescribe that agrees (see the top of the file).
	confirm := func(what string, t0 time.Time) string {
		if !kip848 {
			return ""
		}
		liveMu.Lock()
		names := map[string]bool{}
		for k := range live {
			names[k] = true
		}
		liveMu.Unlock()
		last, lastTrace := "", ""
		check := func() bool {
			req := kmsg.NewPtrConsumerGroupDescribeRequest()
			req.Groups = []string{group}
			ctx, cancel := context.WithTimeout(context.Background(), callTime)
			defer cancel()
			resp, err := req.RequestWith(ctx, admin)
			if err != nil {
				last = err.Error()
				return false
			}
			if len(resp.Groups) != 1 {
				last = fmt.Sprintf("%d groups described", len(resp.Groups))
				return false
			}
			g := resp.Groups[0]
			if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
				last = err.Error()
				return false
			}
			last = fmt.Sprintf("state %s epoch %d assignment epoch %d, %d members", g.State, g.Epoch, g.AssignmentEpoch, len(g.Members))
			if trace {
				epochs := map[int32]int{}
				for _, m := range g.Members {
					epochs[m.MemberEpoch]++
				}
				if t := fmt.Sprintf("%s, member epochs %v", last, epochs); t != lastTrace {
					fmt.Fprintf(os.Stderr, "%s +%s: %s\n", what, ms3(time.Since(t0)), t)
					lastTrace = t
				}
			}
			if g.State != "Stable" || g.AssignmentEpoch != g.Epoch || len(g.Members) != len(names) {
				return false
			}
			own.mu.Lock()
			defer own.mu.Unlock()
			set := func(a kmsg.Assignment) map[int32]bool {
				m := map[int32]bool{}
				for _, t := range a.TopicPartitions {
					if t.TopicID != topicID {
						return nil
					}
					for _, p := range t.Partitions {
						m[p] = true
					}
				}
				return m
			}
			same := func(a, b map[int32]bool) bool {
				if a == nil || b == nil || len(a) != len(b) {
					return false
				}
				for p := range a {
					if !b[p] {
						return false
					}
				}
				return true
			}
			for _, m := range g.Members {
				if !names[m.ClientID] {
					last += ", unexpected member " + m.ClientID
					return false
				}
				if m.MemberEpoch != g.Epoch {
					last += fmt.Sprintf(", %s at epoch %d", m.ClientID, m.MemberEpoch)
					return false
				}
				a := set(m.Assignment)
				if !same(a, set(m.TargetAssignment)) || !same(a, own.owned[m.ClientID]) {
					last += fmt.Sprintf(", %s assignment %d / target %d / owned %d", m.ClientID,
						len(a), len(set(m.TargetAssignment)), len(own.owned[m.ClientID]))
					return false
				}
			}
			return true
		}
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if check() {
				return ms3(time.Since(t0))
			}
		}
		fmt.Fprintf(os.Stderr, "groups_bench: %s: broker did not confirm within 30 s: %s\n", what, last)
		return "none"
	}

	// waitStable: the time from t0 to stable (see the top of the file) and,
	// for consumer groups, to the broker's confirmation, polled from that
	// instant on while the group must stay stable for 1 s.
	waitStable := func(what string, t0 time.Time) (time.Duration, string) {
		liveMu.Lock()
		names := map[string]bool{}
		for k := range live {
			names[k] = true
		}
		liveMu.Unlock()
		end := t0.Add(2 * time.Minute)
		for time.Now().Before(end) {
			if own.stable(names, parts) {
				took := time.Since(t0)
				confirmed := make(chan string, 1)
				go func() { confirmed <- confirm(what, t0) }()
				// It must stay stable (no further rebalance) for 1 s.
				for q := time.Now().Add(time.Second); time.Now().Before(q); time.Sleep(5 * time.Millisecond) {
					if !own.stable(names, parts) {
						die("%s: stable after %v, then not", what, took)
					}
				}
				return took, <-confirmed
			}
			time.Sleep(time.Millisecond)
		}
		die("%s: not stable within 2 min", what)
		return 0, ""
	}

	var ms []*member
	t0 := time.Now()
	for i := 0; i < nmembers; i++ {
		name := fmt.Sprintf("m%02d", i)
		liveMu.Lock()
		live[name] = true
		liveMu.Unlock()
		ms = append(ms, start(name))
	}
	initial, initialConfirm := waitStable("initial group", t0)
	var joinMoved, leaveMoved []string
	before := own.snapshot()
	var joins, leaves, joinsC, leavesC []string
	for r := 0; r < reps; r++ {
		name := fmt.Sprintf("extra%d", r)
		liveMu.Lock()
		live[name] = true
		liveMu.Unlock()
		// Act at a random point of the members' heartbeat interval: they
		// learn of a rebalance at their next heartbeat.
		phase := func() { time.Sleep(time.Duration(rand.Int63n(int64(hbMs)+1)) * time.Millisecond) }
		phase()
		t := time.Now()
		x := start(name)
		took, c := waitStable("join", t)
		after := own.snapshot()
		joinMoved, before = append(joinMoved, moved(before, after)), after
		joins, joinsC = append(joins, ms3(took)), append(joinsC, c)
		liveMu.Lock()
		delete(live, name)
		liveMu.Unlock()
		phase()
		t = time.Now()
		stop(x)
		took, c = waitStable("leave", t)
		after = own.snapshot()
		leaveMoved, before = append(leaveMoved, moved(before, after)), after
		leaves, leavesC = append(leaves, ms3(took)), append(leavesC, c)
	}
	fmt.Printf("initial_ms=%s\njoin_ms=%s\nleave_ms=%s\n", ms3(initial),
		strings.Join(joins, ","), strings.Join(leaves, ","))
	fmt.Printf("join_moved=%s\nleave_moved=%s\n", strings.Join(joinMoved, ","), strings.Join(leaveMoved, ","))
	if kip848 {
		fmt.Printf("initial_confirm_ms=%s\njoin_confirm_ms=%s\nleave_confirm_ms=%s\n", initialConfirm,
			strings.Join(joinsC, ","), strings.Join(leavesC, ","))
	}
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func(m *member) { defer wg.Done(); stop(m) }(m)
	}
	wg.Wait()
}

func ms3(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d.Microseconds())/1000) }

// ---------------------------------------------------------------- commits

func commits(bootstrap string, n, secs int) {
	tag := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1000000)
	topic := "bench-commits-" + tag
	createTopic(bootstrap, topic, n)
	type result struct {
		lat []time.Duration
		err error
	}
	res := make([]result, n)
	var ready, wg sync.WaitGroup
	begin := make(chan struct{})
	var deadline time.Time
	for i := 0; i < n; i++ {
		ready.Add(1)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cl, err := kgo.NewClient(opts(bootstrap, fmt.Sprintf("committer-%d", i))...)
			if err != nil {
				res[i].err = err
				ready.Done()
				return
			}
			defer cl.Close()
			group := fmt.Sprintf("bench-commit-group-%s-%d", tag, i)
			commit := func(off int64) error {
				req := kmsg.NewPtrOffsetCommitRequest()
				req.Group = group
				req.Generation = -1
				t := kmsg.NewOffsetCommitRequestTopic()
				t.Topic = topic
				p := kmsg.NewOffsetCommitRequestTopicPartition()
				p.Partition = int32(i)
				p.Offset = off
				p.LeaderEpoch = -1
				t.Partitions = append(t.Partitions, p)
				req.Topics = append(req.Topics, t)
				ctx, cancel := context.WithTimeout(context.Background(), callTime)
				defer cancel()
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					return err
				}
				for _, rt := range resp.Topics {
					for _, rp := range rt.Partitions {
						if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
							return err
						}
					}
				}
				return nil
			}
			// Warm-up: connection, coordinator lookup, the group's creation.
			if err := commit(0); err != nil {
				res[i].err = err
				ready.Done()
				return
			}
			ready.Done()
			<-begin
			lat := make([]time.Duration, 0, 1<<16)
			for off := int64(1); time.Now().Before(deadline); off++ {
				t0 := time.Now()
				if err := commit(off); err != nil {
					res[i].err = err
					return
				}
				lat = append(lat, time.Since(t0))
			}
			res[i].lat = lat
		}(i)
	}
	ready.Wait()
	t0 := time.Now()
	deadline = t0.Add(time.Duration(secs) * time.Second)
	close(begin)
	wg.Wait()
	took := time.Since(t0)
	var all []time.Duration
	for i, r := range res {
		if r.err != nil {
			die("committer %d: %v", i, r.err)
		}
		all = append(all, r.lat...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(q float64) int64 {
		if len(all) == 0 {
			return 0
		}
		return all[int(q*float64(len(all)-1))].Microseconds()
	}
	fmt.Printf("commits=%d\ncommits_per_s=%.0f\np50_us=%d\np99_us=%d\n", len(all),
		float64(len(all))/took.Seconds(), pct(0.50), pct(0.99))
}

func main() {
	if len(os.Args) < 3 {
		die("usage: groups_bench rebalance BOOTSTRAP BALANCER MEMBERS PARTITIONS REPS HEARTBEAT_MS | commits BOOTSTRAP COMMITTERS SECONDS")
	}
	switch os.Args[1] {
	case "rebalance":
		if len(os.Args) != 8 {
			die("rebalance BOOTSTRAP BALANCER MEMBERS PARTITIONS REPS HEARTBEAT_MS")
		}
		rebalance(os.Args[2], os.Args[3], atoi(os.Args[4]), atoi(os.Args[5]), atoi(os.Args[6]), atoi(os.Args[7]))
	case "commits":
		if len(os.Args) != 5 {
			die("commits BOOTSTRAP COMMITTERS SECONDS")
		}
		commits(os.Args[2], atoi(os.Args[3]), atoi(os.Args[4]))
	default:
		die("unknown mode %q", os.Args[1])
	}
}
