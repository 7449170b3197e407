// Capture scenario for franz-go (pure Go client; kgo + kadm).
//
// usage: golden-franz-go BOOTSTRAP        (e.g. 127.0.0.1:39093, the proxy)
//
// Built by tests/golden/capture.sh with tests/tools/go's go.mod:
//
//	cd tests/tools/go && go build -o OUT ../../golden/clients/go/main.go
//
// See tests/golden/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	client   = "franz_go"
	topic    = "golden-" + client
	txnTopic = topic + "-txn"
	group    = topic + "-classic"
	group848 = topic + "-consumer"
	groupEOS = topic + "-eos"
	stepTime = 30 * time.Second
)

var (
	bootstrap string
	t0        = time.Now()
	failed    []string
	n         = 20
	fill      = strings.Repeat("abcdefghijklmnopqrstuvwxyz0123456789", 4)
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s %6.1fs] %s\n", client, time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
}

// step runs fn with a bounded context; a failure is reported and the
// scenario goes on.
func step(name string, fn func(ctx context.Context) error) {
	logf("step %s", name)
	ctx, cancel := context.WithTimeout(context.Background(), stepTime)
	defer cancel()
	if err := fn(ctx); err != nil {
		failed = append(failed, name)
		logf("step %s FAILED: %v", name, err)
	}
}

// records is the record set of golden_common.py.
func records(t, codec string, count int) []*kgo.Record {
	var out []*kgo.Record
	for i := 0; i < count; i++ {
		r := &kgo.Record{Topic: t}
		if i%4 != 3 {
			r.Key = []byte(fmt.Sprintf("key-%02d", i))
		}
		if i%5 != 4 || r.Key == nil {
			r.Value = []byte(fmt.Sprintf("%s %s record %02d %s", client, codec, i, fill)[:100])
		}
		if i%2 == 0 {
			r.Headers = []kgo.RecordHeader{
				{Key: "trace-id", Value: []byte(fmt.Sprintf("t%04d", i))},
				{Key: "empty", Value: []byte{}},
			}
		}
		out = append(out, r)
	}
	return out
}

func newClient(id string, opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID(id),
		kgo.RetryTimeout(20 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
	return kgo.NewClient(append(base, opts...)...)
}

func produce(ctx context.Context, id, label string, count int, opts ...kgo.Opt) error {
	cl, err := newClient(id, append([]kgo.Opt{kgo.ProducerLinger(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return cl.ProduceSync(ctx, records(topic, label, count)...).FirstErr()
}

// consumeGroup reads topic in a group until want records were read (and at
// least minWait passed, so that heartbeats go out), commits, and leaves.
func consumeGroup(ctx context.Context, id, g string, want int, minWait time.Duration, opts ...kgo.Opt) error {
	base := []kgo.Opt{
		kgo.ConsumerGroup(g),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	}
	cl, err := newClient(id, append(base, opts...)...)
	if err != nil {
		return err
	}
	got := 0
	start := time.Now()
	for i := 0; i < 200 && ctx.Err() == nil; i++ {
		if got >= want && time.Since(start) >= minWait {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		got += fs.NumRecords()
	}
	cerr := cl.CommitUncommittedOffsets(ctx)
	cl.Close() // leaves the group
	logf("%s read %d of %d", id, got, want)
	if cerr != nil {
		return fmt.Errorf("commit: %w", cerr)
	}
	if got < want {
		return fmt.Errorf("read %d of %d", got, want)
	}
	return nil
}

func main() {
	bootstrap = os.Args[1]
	if v, err := strconv.Atoi(os.Getenv("GOLDEN_RECORDS")); err == nil && v > 0 {
		n = v
	}
	acl, err := newClient("golden-franz_go-admin")
	if err != nil {
		logf("admin client: %v", err)
		os.Exit(1)
	}
	adm := kadm.NewClient(acl)

	step("create-topics", func(ctx context.Context) error {
		rs, err := adm.CreateTopics(ctx, 1, 1, nil, topic, txnTopic)
		if err != nil {
			return err
		}
		return rs.Error()
	})
	step("metadata", func(ctx context.Context) error {
		m, err := adm.Metadata(ctx, topic)
		if err == nil {
			logf("cluster %s, %d brokers", m.Cluster, len(m.Brokers))
		}
		return err
	})

	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	for _, c := range codecs {
		step("produce-"+c.name, func(ctx context.Context) error {
			return produce(ctx, "golden-franz_go-producer", c.name, n,
				kgo.ProducerBatchCompression(c.codec), kgo.RequiredAcks(kgo.AllISRAcks()))
		})
	}
	step("produce-acks0", func(ctx context.Context) error {
		return produce(ctx, "golden-franz_go-producer-acks0", "acks0", 5,
			kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	})
	total := len(codecs)*n + 5

	classic := []kgo.Opt{kgo.HeartbeatInterval(300 * time.Millisecond), kgo.SessionTimeout(10 * time.Second)}
	step("consume-group", func(ctx context.Context) error {
		return consumeGroup(ctx, "golden-franz_go-consumer", group, total, 1500*time.Millisecond, classic...)
	})
	// Same group again: OffsetFetch returns the committed offsets.
	step("rejoin-group", func(ctx context.Context) error {
		return consumeGroup(ctx, "golden-franz_go-consumer2", group, 0, 2*time.Second, classic...)
	})
	// KIP-848: ConsumerGroupHeartbeat (server-side assignment).
	step("consume-group-kip848", func(ctx context.Context) error {
		return consumeGroup(ctx, "golden-franz_go-consumer848", group848, total, 1500*time.Millisecond,
			kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	})

	step("list-offsets", func(ctx context.Context) error {
		for _, f := range []func(context.Context, ...string) (kadm.ListedOffsets, error){
			adm.ListStartOffsets, adm.ListEndOffsets, adm.ListMaxTimestampOffsets,
			func(ctx context.Context, ts ...string) (kadm.ListedOffsets, error) {
				return adm.ListOffsetsAfterMilli(ctx, 0, ts...)
			},
		} {
			lo, err := f(ctx, topic)
			if err != nil {
				return err
			}
			if err := lo.Error(); err != nil {
				return err
			}
			lo.Each(func(o kadm.ListedOffset) { logf("offset %s[%d] = %d", o.Topic, o.Partition, o.Offset) })
		}
		return nil
	})
	step("group-admin", func(ctx context.Context) error {
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return err
		}
		logf("group offsets %v", offs.Offsets())
		lg, err := adm.ListGroups(ctx)
		if err != nil {
			return err
		}
		logf("groups %v", lg.Groups())
		dg, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return err
		}
		logf("describe %v", dg.Names())
		return nil
	})

	committed := 0
	step("transactions", func(ctx context.Context) error {
		cl, err := newClient("golden-franz_go-txn", kgo.TransactionalID("golden-franz_go-txn"),
			kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerLinger(20*time.Millisecond))
		if err != nil {
			return err
		}
		defer cl.Close()
		for _, commit := range []bool{true, false} {
			label, end := "txn-commit", kgo.TryCommit
			if !commit {
				label, end = "txn-abort", kgo.TryAbort
			}
			if err := cl.BeginTransaction(); err != nil {
				return err
			}
			if err := cl.ProduceSync(ctx, records(txnTopic, label, 5)...).FirstErr(); err != nil {
				return err
			}
			if err := cl.EndTransaction(ctx, end); err != nil {
				return err
			}
			if commit {
				committed += 5
			}
		}
		return nil
	})
	// Consume-transform-produce: the consumed offsets are committed inside
	// the transaction (AddOffsetsToTxn, TxnOffsetCommit).
	step("transactions-eos", func(ctx context.Context) error {
		s, err := kgo.NewGroupTransactSession(
			kgo.SeedBrokers(bootstrap),
			kgo.ClientID("golden-franz_go-eos"),
			kgo.TransactionalID("golden-franz_go-eos"),
			kgo.FetchMaxWait(200*time.Millisecond),
			kgo.ConsumerGroup(groupEOS),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		)
		if err != nil {
			return err
		}
		defer s.Close()
		got := 0
		for i := 0; i < 50 && got == 0 && ctx.Err() == nil; i++ {
			pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			got += s.PollFetches(pctx).NumRecords()
			cancel()
		}
		if got == 0 {
			return errors.New("no records to transform")
		}
		if err := s.Begin(); err != nil {
			return err
		}
		if err := s.Client().ProduceSync(ctx, records(txnTopic, "txn-eos", 5)...).FirstErr(); err != nil {
			return err
		}
		ok, err := s.End(ctx, kgo.TryCommit)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("transaction was aborted")
		}
		committed += 5
		return nil
	})

	step("read-committed", func(ctx context.Context) error {
		cl, err := newClient("golden-franz_go-read-committed",
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{txnTopic: {0: kgo.NewOffset().AtStart()}}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if err != nil {
			return err
		}
		defer cl.Close()
		got := 0
		for i := 0; i < 40 && got < committed && ctx.Err() == nil; i++ {
			pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			got += cl.PollFetches(pctx).NumRecords()
			cancel()
		}
		logf("read_committed consumer read %d", got)
		if got != committed {
			return fmt.Errorf("read_committed read %d, want %d", got, committed)
		}
		return nil
	})

	step("describe-configs", func(ctx context.Context) error {
		tc, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return err
		}
		bc, err := adm.DescribeBrokerConfigs(ctx, 1)
		if err != nil {
			return err
		}
		for _, rc := range append(tc, bc...) {
			if rc.Err != nil {
				return rc.Err
			}
			logf("configs %s: %d", rc.Name, len(rc.Configs))
		}
		return nil
	})
	step("delete-topics", func(ctx context.Context) error {
		rs, err := adm.DeleteTopics(ctx, topic, txnTopic)
		if err != nil {
			return err
		}
		return rs.Error()
	})
	acl.Close()

	if len(failed) > 0 {
		logf("done; failed steps: %s", strings.Join(failed, ", "))
		os.Exit(1)
	}
	logf("done; all steps passed")
}
