package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrBadTag reports a worker tag or a required tag that cannot be one:
// empty, too long, or with a character other than a letter, a digit, '-'
// or '_'.
var ErrBadTag = errors.New("cluster: bad tag")

// Limits on tags: a tag set becomes subject tokens and a consumer's
// metadata, and each set a run requires is one more consumer.
const (
	maxTagLen = 64
	maxTags   = 16
)

// ParseTags reads tags as given on a command line (crew worker --tag,
// crew run --require, a -S host spec): each string a comma-separated list.
// It returns them sorted and without repeats, the canonical form that
// names a tag set on the server. An empty tag (as in "gpu,,x", "gpu," or
// "") is an error, as is a tag with a character other than a letter, a
// digit, '-' or '_', or more than 16 tags.
func ParseTags(lists []string) ([]string, error) {
	var tags []string
	for _, l := range lists {
		for t := range strings.SplitSeq(l, ",") {
			if err := checkTag(t); err != nil {
				return nil, fmt.Errorf("%w %q in %q: %v", ErrBadTag, t, l, err)
			}
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	if len(tags) > maxTags {
		return nil, fmt.Errorf("%w: %d tags, at most %d", ErrBadTag, len(tags), maxTags)
	}
	return tags, nil
}

func checkTag(t string) error {
	if t == "" {
		return errors.New("a tag must not be empty")
	}
	if len(t) > maxTagLen {
		return fmt.Errorf("longer than %d bytes", maxTagLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("only letters, digits, '-' and '_' may be used, not %q", c)
		}
	}
	return nil
}

// Routing by tags (see the protocol in protocol.go): a run that requires
// tags publishes its jobs under its run id followed by the tags, and
// each tag set a run requires has a consumer of its own, which the
// workers holding all those tags pull from besides the shared one.
const (
	// tagsMeta names a tag set consumer's metadata entry that lists its
	// tags, comma-separated.
	tagsMeta = "crew-tags"
	// tagConsumerPrefix starts the name of a tag set's consumer.
	tagConsumerPrefix = "crew-tags-"
	// TagSetsSubject is the core NATS subject on which a submitter says
	// that it made a tag set's consumer, so that workers look for it at
	// once rather than at their next scan.
	TagSetsSubject = "crew.tagsets"
	// tagRescanEvery is how often a worker with tags looks for tag set
	// consumers it missed the news of (it was reconnecting, say).
	tagRescanEvery = 30 * time.Second
)

// tagConsumer names the consumer of a canonical tag set: a hash, because
// tags may hold '-' and '_' and a consumer's name is bounded.
func tagConsumer(tags []string) string {
	h := sha256.Sum256([]byte(strings.Join(tags, ",")))
	return tagConsumerPrefix + hex.EncodeToString(h[:10])
}

// jobsSubjectFor is the subject of a run's jobs: JobsSubject.<run>, and
// for a run that requires tags JobsSubject.<run>.<tag>... in canonical
// order.
func jobsSubjectFor(run string, tags []string) string {
	s := JobsSubject + "." + run
	for _, t := range tags {
		s += "." + t
	}
	return s
}

// Filters of the consumers: the shared one takes the jobs of runs that
// require no tags (one token after JobsSubject), a tag set's those with
// exactly its tags. On a work queue no two consumers' filters may
// overlap, and these do not: they differ in length or in a literal token.
const sharedFilter = JobsSubject + ".*"

func tagFilter(tags []string) string { return JobsSubject + ".*." + strings.Join(tags, ".") }

// hasAll reports whether have, a canonical tag set, holds every tag of
// need.
func hasAll(have, need []string) bool {
	for _, t := range need {
		if _, ok := slices.BinarySearch(have, t); !ok {
			return false
		}
	}
	return true
}

// canonicalTags checks tags given by a program (WorkerConfig.Tags,
// ExecutorConfig.Require) and returns them sorted and without repeats.
func canonicalTags(tags []string) ([]string, error) {
	for _, t := range tags {
		if err := checkTag(t); err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrBadTag, t, err)
		}
	}
	out := slices.Compact(slices.Sorted(slices.Values(tags)))
	if len(out) > maxTags {
		return nil, fmt.Errorf("%w: %d tags, at most %d", ErrBadTag, len(out), maxTags)
	}
	return out, nil
}

// filterShared narrows the shared consumer of an older broker, which
// took every job of the stream, to the jobs of runs without tags, so
// that tag set consumers may exist beside it.
func filterShared(ctx context.Context, sp *space, cons jetstream.Consumer) (jetstream.Consumer, error) {
	cfg := cons.CachedInfo().Config
	if cfg.FilterSubject != "" || len(cfg.FilterSubjects) > 0 {
		return cons, nil
	}
	cfg.FilterSubject = sharedFilter
	return sp.js.UpdateConsumer(ctx, JobsStream, cfg)
}

// ensureTagConsumer makes the consumer of a tag set, unless it exists,
// with the settings of the shared consumer (the first worker's, see
// Worker.Run), and tells the workers.
func ensureTagConsumer(ctx context.Context, nc *nats.Conn, sp *space, tags []string) error {
	name := tagConsumer(tags)
	if _, err := sp.js.Consumer(ctx, JobsStream, name); err == nil {
		return nil
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       DefaultAckWait,
		MaxDeliver:    -1,
		MaxAckPending: -1,
		FilterSubject: tagFilter(tags),
		Metadata:      map[string]string{tagsMeta: strings.Join(tags, ","), maxRunsMeta: strconv.Itoa(DefaultMaxRuns)},
	}
	if shared, err := sp.js.Consumer(ctx, JobsStream, WorkersConsumer); err == nil {
		if shared, err = filterShared(ctx, sp, shared); err != nil {
			return fmt.Errorf("cluster: workers consumer: %w", err)
		}
		sc := shared.CachedInfo().Config
		if sc.AckWait > 0 {
			cfg.AckWait = sc.AckWait
		}
		cfg.MemoryStorage = sc.MemoryStorage // an SSH run's (see WorkerConfig.ephemeral)
		if v := sc.Metadata[maxRunsMeta]; v != "" {
			cfg.Metadata[maxRunsMeta] = v
		} else if sc.MaxDeliver > 0 {
			cfg.Metadata[maxRunsMeta] = strconv.Itoa(sc.MaxDeliver)
		}
	}
	if _, err := sp.js.CreateConsumer(ctx, JobsStream, cfg); err != nil && !errors.Is(err, jetstream.ErrConsumerExists) {
		return fmt.Errorf("cluster: consumer for tags %s: %w", strings.Join(tags, ","), err)
	}
	_ = nc.Publish(TagSetsSubject, []byte(name))
	return nil
}

// tagConsumers lists the tag set consumers whose tags a worker with
// tags has all of.
func tagConsumers(ctx context.Context, sp *space, have []string) ([]string, error) {
	var names []string
	l := sp.jobs.ListConsumers(ctx)
	for info := range l.Info() {
		if !strings.HasPrefix(info.Name, tagConsumerPrefix) {
			continue
		}
		need := strings.Split(info.Config.Metadata[tagsMeta], ",")
		if hasAll(have, need) {
			names = append(names, info.Name)
		}
	}
	return names, l.Err()
}

// kick wakes the pull loops: room may have freed.
func (w *Worker) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// pullTagged runs the pull loops of a worker with tags until ctx ends:
// one on the shared consumer and one on each tag set consumer whose tags
// the worker all has, found at the start, when a submitter announces a
// new one (TagSetsSubject) and every tagRescanEvery. The loops share the
// worker's room (see pullLoop); every wake-up reaches each of them.
func (w *Worker) pullTagged(ctx context.Context, nc *nats.Conn, n, prefetch int) {
	var (
		mu      sync.Mutex
		wakes   = map[string]chan struct{}{}
		loops   sync.WaitGroup
		relayed = make(chan struct{})
	)
	start := func(name string, cons jetstream.Consumer) {
		wake := make(chan struct{}, 1)
		mu.Lock()
		wakes[name] = wake
		mu.Unlock()
		w.pulls.Add(1)
		loops.Go(func() {
			w.pullLoop(ctx, nc, n, prefetch, cons, wake)
			w.pulls.Add(-1)
			mu.Lock()
			delete(wakes, name)
			mu.Unlock()
		})
	}
	// One reader of w.wake hands each wake-up to every loop.
	go func() {
		defer close(relayed)
		for {
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			}
			mu.Lock()
			for _, c := range wakes {
				select {
				case c <- struct{}{}:
				default:
				}
			}
			mu.Unlock()
		}
	}()
	start(WorkersConsumer, nil)

	news := make(chan struct{}, 1)
	sub, err := nc.Subscribe(TagSetsSubject, func(*nats.Msg) {
		select {
		case news <- struct{}{}:
		default:
		}
	})
	if err == nil {
		defer sub.Unsubscribe()
	}
	scan := time.NewTicker(tagRescanEvery)
	defer scan.Stop()
	for {
		sctx, stop := context.WithTimeout(ctx, setupTimeout)
		names, err := tagConsumers(sctx, w.sp, w.cfg.Tags)
		for _, name := range names {
			mu.Lock()
			_, running := wakes[name]
			mu.Unlock()
			if running {
				continue
			}
			if cons, err := w.sp.js.Consumer(sctx, JobsStream, name); err == nil {
				start(name, cons)
			}
		}
		stop()
		if err != nil && ctx.Err() == nil {
			w.log.Warn("cluster: listing the tag set consumers failed; retrying", "err", err, "in", tagRescanEvery)
		}
		select {
		case <-news:
		case <-scan.C:
		case <-ctx.Done():
			loops.Wait()
			<-relayed
			return
		}
	}
}

// route returns the subject of the Executor's jobs and, for a run that
// requires tags, makes sure their tag set has its consumer.
func (e *Executor) route(ctx context.Context) (string, error) {
	tags, err := canonicalTags(e.cfg.Require)
	if err != nil {
		return "", err
	}
	e.cfg.Require = tags
	if len(tags) > 0 {
		if err := ensureTagConsumer(ctx, e.nc, e.sp, tags); err != nil {
			return "", err
		}
	}
	return jobsSubjectFor(e.run, tags), nil
}

// servedEvery is how often an Executor whose run requires tags looks
// for a connected worker that has them (see ExecutorConfig.OnServed).
const servedEvery = 2 * time.Second

// watchServed tells ExecutorConfig.OnServed when no connected worker has
// all the run's tags, by the workers' registrations (the ones crew
// workers lists), at two looks servedEvery apart (a worker starting at
// the same time as the run gets to register), and when one has again,
// until Close.
func (e *Executor) watchServed() {
	c := &Client{nc: e.nc, sp: e.sp}
	t := time.NewTicker(servedEvery)
	defer t.Stop()
	misses, told := 0, false
	for {
		ctx, stop := context.WithTimeout(e.alive, servedEvery)
		recs, err := c.workerRecords(ctx)
		stop()
		if err == nil {
			served := slices.ContainsFunc(recs, func(r workerRecord) bool { return hasAll(r.Tags, e.cfg.Require) })
			switch {
			case served:
				misses = 0
				if told {
					told = false
					e.cfg.OnServed(true)
				}
			case !told:
				if misses++; misses == 2 {
					told = true
					e.cfg.OnServed(false)
				}
			}
		}
		select {
		case <-t.C:
		case <-e.alive.Done():
			return
		}
	}
}
