// franz_it: integration checks for franz-go (kgo + kadm) against a broker.
//
//	cd tests/tools/go && go build -o OUT ../../integration/go/franz_it.go
//	OUT BOOTSTRAP
//
// Prints one line per check, "ok NAME" or "FAIL NAME: detail", which
// tests/integration/suite_franz.sh counts. Exit status 0 only when every
// check passed. No consumer group: reads use kgo.ConsumePartitions; the
// producer has idempotence disabled (no InitProducerId needed). Every call
// is bounded by a context deadline.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	topic    = "it-franz"
	perCodec = 25
	callTime = 20 * time.Second
)

var (
	bootstrap string
	failures  int
	base      = time.Now().Add(-time.Hour).Truncate(time.Millisecond)
)

var codecs = []struct {
	name  string
	codec kgo.CompressionCodec
}{
	{"none", kgo.NoCompression()},
	{"gzip", kgo.GzipCompression()},
	{"snappy", kgo.SnappyCompression()},
	{"lz4", kgo.Lz4Compression()},
	{"zstd", kgo.ZstdCompression()},
}

func ok(name string) { fmt.Println("ok " + name) }

func fail(name, format string, args ...any) {
	failures++
	fmt.Println("FAIL " + name + ": " + strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " "))
}

func check(name string, cond bool, format string, args ...any) bool {
	if cond {
		ok(name)
	} else {
		fail(name, format, args...)
	}
	return cond
}

func eq[T comparable](name string, want, got T) bool {
	return check(name, want == got, "want <%v> got <%v>", want, got)
}

func ctxT() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTime)
}

func client(id string, opts ...kgo.Opt) *kgo.Client {
	base := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID(id),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(15 * time.Second),
		kgo.RequestTimeoutOverhead(10 * time.Second),
		kgo.FetchMaxWait(300 * time.Millisecond),
		kgo.DisableIdempotentWrite(), // InitProducerId arrives later
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Not kgo.RecordDeliveryTimeout: franz-go measures it from the
		// record's own Timestamp, and these are an hour old on purpose.
		kgo.RecordRetries(10),
		kgo.ProduceRequestTimeout(10 * time.Second),
	}
	if os.Getenv("FRANZ_IT_DEBUG") != "" {
		base = append(base, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, nil)))
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		fmt.Println("FAIL new client: " + err.Error())
		os.Exit(1)
	}
	return cl
}

// record i of codec partition p
func rec(p int32, codec string, i int) *kgo.Record {
	r := &kgo.Record{
		Topic:     topic,
		Partition: p,
		Key:       []byte(fmt.Sprintf("%s-key-%d", codec, i)),
		Value:     []byte(strings.Repeat(fmt.Sprintf("%s value %d;", codec, i), 1+i%7)),
		Timestamp: base.Add(time.Duration(i) * time.Second),
		Headers: []kgo.RecordHeader{
			{Key: "codec", Value: []byte(codec)},
			{Key: "i", Value: []byte(fmt.Sprint(i))},
			{Key: "empty", Value: nil},
		},
	}
	if i == 5 {
		r.Key = nil // a keyless record
	}
	return r
}

func show(r *kgo.Record) string {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, fmt.Sprintf("%s=%q", h.Key, h.Value))
	}
	return fmt.Sprintf("%d|%q|%q|%d|%s", r.Offset, r.Key, r.Value, r.Timestamp.UnixMilli(), strings.Join(hs, ","))
}

// consume reads want records of one partition from offset `from` with
// ConsumePartitions (no group), bounded by callTime.
func consume(p int32, from int64, want int) ([]*kgo.Record, error) {
	cl := client("it-franz-consumer", kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {p: kgo.NewOffset().At(from)},
	}))
	defer cl.Close()
	ctx, cancel := ctxT()
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("timeout after %d of %d records", len(out), want)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("%s[%d]: %w", t, p, err) })
		if ferr != nil {
			return out, ferr
		}
		out = append(out, fs.Records()...)
	}
	// nothing more may arrive
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	out = append(out, cl.PollFetches(ctx2).Records()...)
	return out, nil
}

func main() {
	bootstrap = os.Args[1]
	adminCl := client("it-franz-admin")
	adm := kadm.NewClient(adminCl)
	run(adm, adminCl)
	adminCl.Close()
	if failures == 0 {
		fmt.Println("all checks passed")
		return
	}
	fmt.Printf("%d checks failed\n", failures)
	os.Exit(1)
}

func run(adm *kadm.Client, raw *kgo.Client) {
	// admin calls share one deadline; the suite bounds the whole program too
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()

	meta, err := adm.BrokerMetadata(ctx)
	if !check("metadata", err == nil && len(meta.Brokers) == 1, "err %v brokers %v", err, meta.Brokers) {
		return
	}
	node := meta.Brokers[0].NodeID
	eq("metadata controller is the broker", node, meta.Controller)
	eq("metadata broker host", "127.0.0.1", meta.Brokers[0].Host)
	check("metadata cluster id", meta.Cluster != "", "empty cluster id")

	retention := "987654321"
	ct, err := adm.CreateTopics(ctx, int32(len(codecs)), 1, map[string]*string{"retention.ms": &retention}, topic)
	if !check("createTopics", err == nil && ct[topic].Err == nil, "err %v / %v %s", err, ct[topic].Err, ct[topic].ErrMessage) {
		return
	}
	eq("createTopics numPartitions", int32(len(codecs)), ct[topic].NumPartitions)
	eq("createTopics replicationFactor", int16(1), ct[topic].ReplicationFactor)
	check("createTopics topic id", ct[topic].ID != kadm.TopicID{}, "zero topic id")

	ct2, err := adm.CreateTopics(ctx, 1, 1, nil, topic)
	check("createTopics existing -> TOPIC_ALREADY_EXISTS", err == nil && errors.Is(ct2[topic].Err, kerr.TopicAlreadyExists),
		"err %v / %v", err, ct2[topic].Err)

	td, err := adm.ListTopics(ctx, topic)
	if check("listTopics", err == nil && td[topic].Err == nil, "err %v / %v", err, td[topic].Err) {
		d := td[topic]
		eq("listTopics same topic id as createTopics", ct[topic].ID, d.ID)
		eq("listTopics partitions", len(codecs), len(d.Partitions))
		good := true
		for _, p := range d.Partitions.Sorted() {
			if p.Err != nil || p.Leader != node || len(p.Replicas) != 1 || p.Replicas[0] != node ||
				len(p.ISR) != 1 || p.ISR[0] != node || p.LeaderEpoch < 0 {
				good = false
			}
		}
		check("listTopics leader/replicas/isr = the node, epoch >= 0", good, "%+v", d.Partitions)
	}

	rc, err := adm.DescribeTopicConfigs(ctx, topic)
	if check("describeTopicConfigs", err == nil && len(rc) == 1 && rc[0].Err == nil, "err %v %+v", err, rc) {
		got := map[string]string{}
		for _, c := range rc[0].Configs {
			got[c.Key] = c.MaybeValue() + "|" + c.Source.String()
		}
		eq("describeTopicConfigs retention.ms", retention+"|DYNAMIC_TOPIC_CONFIG", got["retention.ms"])
		eq("describeTopicConfigs cleanup.policy", "delete|DEFAULT_CONFIG", got["cleanup.policy"])
	}

	seg := "7200000"
	ac, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.ms", Value: &seg},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, topic)
	check("alterTopicConfigs (incremental)", err == nil && len(ac) == 1 && ac[0].Err == nil, "err %v %+v", err, ac)
	// Kafka applies the change through its metadata log: look again for up
	// to 5 s before judging.
	var got map[string]string
	for i := 0; i < 25; i++ {
		got = map[string]string{}
		if rc, err := adm.DescribeTopicConfigs(ctx, topic); err == nil && len(rc) == 1 {
			for _, c := range rc[0].Configs {
				got[c.Key] = c.MaybeValue() + "|" + c.Source.String()
			}
		}
		if got["segment.ms"] == seg+"|DYNAMIC_TOPIC_CONFIG" && got["retention.ms"] == "604800000|DEFAULT_CONFIG" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	eq("alterTopicConfigs SET segment.ms", seg+"|DYNAMIC_TOPIC_CONFIG", got["segment.ms"])
	eq("alterTopicConfigs DELETE retention.ms -> default", "604800000|DEFAULT_CONFIG", got["retention.ms"])

	// ---------------------------------------------------------- produce
	for i, c := range codecs {
		acks := kgo.AllISRAcks()
		label := "acks=all"
		if c.name == "gzip" {
			acks, label = kgo.LeaderAck(), "acks=1"
		}
		cl := client("it-franz-producer-"+c.name, kgo.ProducerBatchCompression(c.codec),
			kgo.RequiredAcks(acks), kgo.ProducerLinger(20*time.Millisecond))
		var recs []*kgo.Record
		for j := 0; j < perCodec; j++ {
			recs = append(recs, rec(int32(i), c.name, j))
		}
		pctx, pcancel := ctxT()
		res := cl.ProduceSync(pctx, recs...)
		pcancel()
		cl.Close()
		if !check("produce "+c.name+" "+label, res.FirstErr() == nil, "%v", res.FirstErr()) {
			continue
		}
		var offs []string
		goodOffs := true
		for j, r := range res {
			if r.Record.Offset != int64(j) || r.Record.Partition != int32(i) {
				goodOffs = false
			}
			offs = append(offs, fmt.Sprint(r.Record.Offset))
		}
		check("produce "+c.name+" offsets 0..n-1", goodOffs, "offsets %s", strings.Join(offs, ","))
	}

	// ---------------------------------------------------------- list offsets
	so, err := adm.ListStartOffsets(ctx, topic)
	eo, err2 := adm.ListEndOffsets(ctx, topic)
	if check("listOffsets start/end", err == nil && err2 == nil && so.Error() == nil && eo.Error() == nil,
		"%v %v %v %v", err, err2, so.Error(), eo.Error()) {
		good := true
		for i := range codecs {
			s, _ := so.Lookup(topic, int32(i))
			e, _ := eo.Lookup(topic, int32(i))
			if s.Offset != 0 || e.Offset != perCodec {
				good = false
			}
		}
		check("listOffsets start 0 and end n on every partition", good, "start %v end %v", so, eo)
	}
	at, err := adm.ListOffsetsAfterMilli(ctx, base.Add(10*time.Second+time.Millisecond).UnixMilli(), topic)
	if check("listOffsetsAfterMilli", err == nil && at.Error() == nil, "%v %v", err, at.Error()) {
		good := true
		for i := range codecs {
			o, _ := at.Lookup(topic, int32(i))
			if o.Offset != 11 || o.Timestamp != base.Add(11*time.Second).UnixMilli() {
				good = false
			}
		}
		check("listOffsetsAfterMilli(base+10.001s) -> offset 11 with its timestamp on every codec", good, "%v", at)
	}
	mt, err := adm.ListMaxTimestampOffsets(ctx, topic)
	if check("listMaxTimestampOffsets", err == nil && mt.Error() == nil, "%v %v", err, mt.Error()) {
		good := true
		for i := range codecs {
			o, _ := mt.Lookup(topic, int32(i))
			if o.Offset != perCodec-1 || o.Timestamp != base.Add((perCodec-1)*time.Second).UnixMilli() {
				good = false
			}
		}
		check("listMaxTimestampOffsets -> last record", good, "%v", mt)
	}

	// ---------------------------------------------------------- consume
	for i, c := range codecs {
		got, err := consume(int32(i), 0, perCodec)
		if !check("consume "+c.name+" from 0", err == nil, "%v", err) {
			continue
		}
		var want, have []string
		for j := 0; j < perCodec; j++ {
			r := rec(int32(i), c.name, j)
			r.Offset = int64(j)
			want = append(want, show(r))
		}
		for _, r := range got {
			have = append(have, show(r))
		}
		eq("consume "+c.name+" records exact (offset, key, value, timestamp, headers)",
			strings.Join(want, "\n"), strings.Join(have, "\n"))
		mid, err := consume(int32(i), 17, perCodec-17)
		if check("consume "+c.name+" from 17 (inside a batch)", err == nil, "%v", err) {
			var offs []int64
			for _, r := range mid {
				offs = append(offs, r.Offset)
			}
			eq("consume "+c.name+" from 17 gives offsets 17..n-1", fmt.Sprint(seq(17, perCodec)), fmt.Sprint(offs))
		}
	}

	// A consumer waiting at the end gets a record produced later (its fetch
	// session, if the broker gives one, must keep working).
	{
		cl := client("it-franz-tail", kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			topic: {1: kgo.NewOffset().At(perCodec)},
		}))
		rctx, rcancel := ctxT()
		pctx, pcancel := context.WithTimeout(rctx, time.Second)
		early := cl.PollFetches(pctx).Records()
		pcancel()
		p := client("it-franz-tail-producer", kgo.RequiredAcks(kgo.AllISRAcks()))
		res := p.ProduceSync(rctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("late")})
		p.Close()
		var got []*kgo.Record
		for len(got) == 0 && rctx.Err() == nil {
			got = append(got, cl.PollFetches(rctx).Records()...)
		}
		rcancel()
		cl.Close()
		check("consumer waiting at the end receives a record produced later",
			len(early) == 0 && res.FirstErr() == nil && len(got) == 1 && got[0].Offset == perCodec &&
				string(got[0].Value) == "late",
			"%d records before the produce, produce err %v, got %d records", len(early), res.FirstErr(), len(got))
	}

	// Out of range: ConsumePartitions at an offset past the end resets to
	// the end (franz-go's default reset), so the next record produced is the
	// first one it returns.
	{
		cl := client("it-franz-oor", kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			topic: {0: kgo.NewOffset().At(perCodec + 50)},
		}), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
		rctx, rcancel := ctxT()
		// one poll to let the client hit OFFSET_OUT_OF_RANGE and reset
		pctx, pcancel := context.WithTimeout(rctx, 2*time.Second)
		cl.PollFetches(pctx)
		pcancel()
		p := client("it-franz-oor-producer", kgo.RequiredAcks(kgo.AllISRAcks()))
		res := p.ProduceSync(rctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("after-reset")})
		p.Close()
		var got []*kgo.Record
		for len(got) == 0 && rctx.Err() == nil {
			got = append(got, cl.PollFetches(rctx).Records()...)
		}
		rcancel()
		cl.Close()
		check("consume past the end resets to the end and reads the next record",
			res.FirstErr() == nil && len(got) == 1 && got[0].Offset == perCodec && string(got[0].Value) == "after-reset",
			"produce err %v, got %d records %v", res.FirstErr(), len(got), got)
	}

	// ---------------------------------------------------------- partitions, delete
	up, err := adm.UpdatePartitions(ctx, len(codecs)+2, topic)
	check("updatePartitions (CreatePartitions)", err == nil && up[topic].Err == nil, "%v %+v", err, up)
	if td, err := adm.ListTopics(ctx, topic); err == nil {
		eq("listTopics after createPartitions", len(codecs)+2, len(td[topic].Partitions))
	} else {
		fail("listTopics after createPartitions", "%v", err)
	}

	dt, err := adm.DeleteTopics(ctx, topic)
	check("deleteTopics", err == nil && dt[topic].Err == nil, "%v %+v", err, dt)
	gone := false
	for i := 0; i < 50 && !gone; i++ {
		td, err := adm.ListTopics(ctx)
		if err == nil {
			_, present := td[topic]
			gone = !present
		}
		if !gone {
			time.Sleep(200 * time.Millisecond)
		}
	}
	check("deleted topic leaves the topic list", gone, "still listed after 10 s")
	dt2, err := adm.DeleteTopics(ctx, topic)
	check("deleteTopics missing -> UNKNOWN_TOPIC_OR_PARTITION", err == nil && errors.Is(dt2[topic].Err, kerr.UnknownTopicOrPartition),
		"%v %+v", err, dt2)

	// The request versions franz-go picked (for the report).
	req := kmsg.NewPtrApiVersionsRequest()
	if resp, err := req.RequestWith(ctx, raw); err == nil {
		var keys []string
		for _, k := range resp.ApiKeys {
			if n := kmsg.NameForKey(k.ApiKey); n != "" && k.ApiKey <= 37 {
				keys = append(keys, fmt.Sprintf("%s %d-%d", n, k.MinVersion, k.MaxVersion))
			}
		}
		fmt.Println("broker ApiVersions: " + strings.Join(keys, ", "))
	}
}

func seq(from, to int) []int64 {
	var s []int64
	for i := from; i < to; i++ {
		s = append(s, int64(i))
	}
	return s
}
