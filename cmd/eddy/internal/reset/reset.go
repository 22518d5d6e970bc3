// Package reset is `eddy reset`: what Kafka's kafka-streams-application-reset does, for
// an Eddy application. It resets the group's offsets on the input topics (to the
// earliest offsets or to a time), moves those on intermediate topics to their ends,
// deletes the application's internal topics (repartition, changelog and foreign-key
// subscription topics) with the group's offsets on them, and wipes an instance's local
// state. It refuses while the group has members.
package reset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/internal/statedir"
)

// ErrActiveMembers is returned (wrapped) when the application's group has members: an
// instance still runs, or one that crashed has not yet timed out of the group.
var ErrActiveMembers = errors.New("the application's consumer group has active members")

// Config is what to reset.
type Config struct {
	// ApplicationID is the application's id, which is its group id and the prefix of its
	// internal topics.
	ApplicationID string
	// InputTopics are the topics whose offsets go back. Nil: every topic the group has
	// committed offsets for, except the application's internal topics and the
	// intermediate topics.
	InputTopics []string
	// IntermediateTopics are topics that the application writes and reads again: the
	// group's offsets on them move to their ends, so that a rerun does not read what the
	// previous run wrote.
	IntermediateTopics []string
	// ToTime, when not zero, resets each input partition to its first record at or after
	// it (the end when none is); zero resets to the earliest offsets.
	ToTime time.Time
	// StateDir, when not empty, is the state directory (eddy.StateDir) of an instance
	// whose local state, <StateDir>/<ApplicationID>, is wiped.
	StateDir string
}

// PartitionOffset is the offset a partition of the group is set to.
type PartitionOffset struct {
	Topic     string
	Partition int32
	// Offset is the new offset; Committed the group's offset before, -1 when none.
	Offset, Committed int64
}

// Plan is everything a reset does.
type Plan struct {
	ApplicationID string
	// Inputs and Intermediate are the new offsets, sorted by topic and partition.
	Inputs, Intermediate []PartitionOffset
	// ToTime is Config.ToTime.
	ToTime time.Time
	// Internal are the internal topics deleted, sorted; InternalOffsets the group's
	// committed offsets on them, deleted first.
	Internal        []string
	InternalOffsets kadm.TopicsSet
	// StateDir is the directory wiped, "" for none; State what it holds that is
	// deleted (statedir.State).
	StateDir string
	State    []string
}

// internalSuffixes end the names of the topics an application owns, after its
// "<application id>-" prefix: changelogs, repartition topics and the topics of
// foreign-key joins (Kafka Streams' StreamsResetter.matchesInternalTopicFormat).
var internalSuffixes = []string{"-changelog", "-repartition", "-subscription-registration-topic", "-subscription-response-topic"}

// IsInternal reports whether topic is named as an internal topic of application.
func IsInternal(application, topic string) bool {
	if !strings.HasPrefix(topic, application+"-") {
		return false
	}
	for _, s := range internalSuffixes {
		if strings.HasSuffix(topic, s) && len(topic) > len(application)+1+len(s) {
			return true
		}
	}
	return false
}

// MakePlan reads the group and the topics and returns what a reset would do; it changes
// nothing. It fails with ErrActiveMembers while the group has members, and when a named
// input or intermediate topic does not exist.
func MakePlan(ctx context.Context, cl *kgo.Client, cfg Config) (Plan, error) {
	adm := kadm.NewClient(cl)
	app := cfg.ApplicationID
	if app == "" {
		return Plan{}, errors.New("no application id")
	}
	if err := checkNoMembers(ctx, adm, app); err != nil {
		return Plan{}, err
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("listing topics: %w", err)
	}
	if err := topics.Error(); err != nil {
		return Plan{}, fmt.Errorf("listing topics: %w", err)
	}
	committed, err := adm.FetchOffsets(ctx, app)
	if err != nil {
		return Plan{}, fmt.Errorf("fetching the offsets of group %s: %w", app, err)
	}
	if err := committed.Error(); err != nil {
		return Plan{}, fmt.Errorf("fetching the offsets of group %s: %w", app, err)
	}

	isExplicit := func(t string) bool {
		return slices.Contains(cfg.InputTopics, t) || slices.Contains(cfg.IntermediateTopics, t)
	}
	inputs := cfg.InputTopics
	if inputs == nil {
		for t := range committed {
			if !IsInternal(app, t) && !isExplicit(t) && topics.Has(t) {
				inputs = append(inputs, t)
			}
		}
	}
	var missing []string
	for _, t := range slices.Concat(inputs, cfg.IntermediateTopics) {
		if !topics.Has(t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return Plan{}, fmt.Errorf("topics not found: %s", strings.Join(missing, ", "))
	}

	p := Plan{ApplicationID: app, ToTime: cfg.ToTime, InternalOffsets: kadm.TopicsSet{}}
	if len(inputs) > 0 {
		var listed kadm.ListedOffsets
		if cfg.ToTime.IsZero() {
			listed, err = adm.ListStartOffsets(ctx, inputs...)
		} else {
			listed, err = adm.ListOffsetsAfterMilli(ctx, cfg.ToTime.UnixMilli(), inputs...)
		}
		if p.Inputs, err = newOffsets(listed, err, committed); err != nil {
			return Plan{}, fmt.Errorf("listing the offsets of the input topics: %w", err)
		}
	}
	if len(cfg.IntermediateTopics) > 0 {
		listed, err := adm.ListEndOffsets(ctx, cfg.IntermediateTopics...)
		if p.Intermediate, err = newOffsets(listed, err, committed); err != nil {
			return Plan{}, fmt.Errorf("listing the end offsets of the intermediate topics: %w", err)
		}
	}
	for _, t := range topics.Names() {
		if IsInternal(app, t) && !isExplicit(t) {
			p.Internal = append(p.Internal, t)
		}
	}
	for t, parts := range committed {
		if IsInternal(app, t) && !isExplicit(t) {
			for part := range parts {
				p.InternalOffsets.Add(t, part)
			}
		}
	}
	if cfg.StateDir != "" {
		p.StateDir = filepath.Join(cfg.StateDir, app)
		if p.State, err = statedir.State(p.StateDir); err != nil {
			return Plan{}, err
		}
	}
	return p, nil
}

// checkNoMembers fails with ErrActiveMembers while group has members. A group that does
// not exist has none.
func checkNoMembers(ctx context.Context, adm *kadm.Client, group string) error {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Errorf("describing group %s: %w", group, err)
	}
	g, ok := described[group]
	switch {
	case !ok, errors.Is(g.Err, kerr.GroupIDNotFound):
		return nil
	case g.Err != nil:
		return fmt.Errorf("describing group %s: %w", group, g.Err)
	case len(g.Members) > 0:
		ids := make([]string, len(g.Members))
		for i, m := range g.Members {
			ids[i] = m.ClientID + " (" + m.ClientHost + ")"
		}
		return fmt.Errorf("%w: group %s is %s with %d members: %s; stop every instance, and wait for the session timeout of one that crashed",
			ErrActiveMembers, group, g.State, len(g.Members), strings.Join(ids, ", "))
	}
	return nil
}

// newOffsets turns listed offsets into the partitions' new offsets, sorted, with the
// offsets the group had committed.
func newOffsets(listed kadm.ListedOffsets, err error, committed kadm.OffsetResponses) ([]PartitionOffset, error) {
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, err
	}
	var out []PartitionOffset
	listed.Each(func(o kadm.ListedOffset) {
		po := PartitionOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, Committed: -1}
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok {
			po.Committed = c.At
		}
		out = append(out, po)
	})
	slices.SortFunc(out, func(a, b PartitionOffset) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

// Execute does what p says, in this order: it checks again that the group has no
// members, commits the new offsets, deletes the group's offsets on internal topics,
// deletes the internal topics and waits until the broker no longer lists them (so that
// an application started at once creates them anew), and wipes the state directory
// under its lock (refused while an instance holds it, before anything changes). It
// stops at the first error; rerunning the reset then completes it.
func Execute(ctx context.Context, cl *kgo.Client, p Plan) error {
	adm := kadm.NewClient(cl)
	if err := checkNoMembers(ctx, adm, p.ApplicationID); err != nil {
		return err
	}
	if p.StateDir != "" && len(p.State) > 0 {
		// Take the lock before changing anything, so that a running instance refuses
		// the whole reset rather than leaving it half done.
		unlock, err := statedir.Lock(p.StateDir)
		if err != nil {
			return fmt.Errorf("local state: %w", err)
		}
		defer unlock()
	}
	var offsets kadm.Offsets
	for _, po := range slices.Concat(p.Inputs, p.Intermediate) {
		offsets.AddOffset(po.Topic, po.Partition, po.Offset, -1)
	}
	if len(offsets) > 0 {
		resp, err := adm.CommitOffsets(ctx, p.ApplicationID, offsets)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("committing the new offsets: %w", err)
		}
	}
	if len(p.InternalOffsets) > 0 {
		resp, err := adm.DeleteOffsets(ctx, p.ApplicationID, p.InternalOffsets)
		if err == nil {
			// Offsets on a topic already deleted (a reset run again after a failure)
			// are gone with it.
			resp.EachError(func(topic string, partition int32, e error) {
				if !errors.Is(e, kerr.UnknownTopicOrPartition) {
					err = errors.Join(err, fmt.Errorf("%s partition %d: %w", topic, partition, e))
				}
			})
		}
		if err != nil {
			return fmt.Errorf("deleting the group's offsets on internal topics: %w", err)
		}
	}
	if len(p.Internal) > 0 {
		resp, err := adm.DeleteTopics(ctx, p.Internal...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("deleting internal topics: %w", err)
		}
		if err := waitDeleted(ctx, cl, p.Internal); err != nil {
			return err
		}
	}
	if p.StateDir != "" && len(p.State) > 0 {
		if err := statedir.Wipe(p.StateDir); err != nil {
			return err
		}
	}
	return nil
}

// deleteWait bounds how long Execute waits for deleted topics to leave the metadata.
const deleteWait = 30 * time.Second

// waitDeleted waits until the broker's metadata no longer lists topics. It asks the
// broker each time: the client's own metadata cache would answer with what it saw.
func waitDeleted(ctx context.Context, cl *kgo.Client, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, deleteWait)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	for {
		resp, err := req.RequestWith(ctx, cl)
		var listed []string
		if err == nil {
			for _, t := range resp.Topics {
				if t.ErrorCode != kerr.UnknownTopicOrPartition.Code && t.Topic != nil {
					listed = append(listed, *t.Topic)
				}
			}
			if len(listed) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deleted internal topics still listed after %v: %v (last error: %v)", deleteWait, listed, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Print writes p for an operator: each partition with its new offset, each topic
// deleted, the directory wiped and what it holds.
func Print(w io.Writer, p Plan) {
	fmt.Fprintf(w, "Application %s: its group has no active members.\n", p.ApplicationID)
	to := "the earliest offsets"
	if !p.ToTime.IsZero() {
		to = "the first offsets at or after " + p.ToTime.UTC().Format(time.RFC3339Nano)
	}
	printOffsets(w, "Input topics: reset to "+to, p.Inputs)
	printOffsets(w, "Intermediate topics: moved to their ends", p.Intermediate)
	if len(p.InternalOffsets) > 0 {
		fmt.Fprintln(w, "Group offsets deleted on internal topics:")
		for _, tp := range p.InternalOffsets.Sorted() {
			fmt.Fprintf(w, "  %s partitions %v\n", tp.Topic, tp.Partitions)
		}
	}
	if len(p.Internal) == 0 {
		fmt.Fprintln(w, "Internal topics: none found.")
	} else {
		fmt.Fprintln(w, "Internal topics deleted:")
		for _, t := range p.Internal {
			fmt.Fprintf(w, "  %s\n", t)
		}
	}
	switch {
	case p.StateDir == "":
		fmt.Fprintln(w, "Local state: no -state-dir given, nothing wiped.")
	case len(p.State) == 0:
		fmt.Fprintf(w, "Local state: %s holds none.\n", p.StateDir)
	default:
		fmt.Fprintf(w, "Local state wiped in %s:\n", p.StateDir)
		for _, name := range p.State {
			fmt.Fprintf(w, "  %s\n", name)
		}
	}
}

func printOffsets(w io.Writer, title string, offsets []PartitionOffset) {
	if len(offsets) == 0 {
		fmt.Fprintf(w, "%s: none.\n", strings.SplitN(title, ":", 2)[0])
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	for _, o := range offsets {
		committed := "none"
		if o.Committed >= 0 {
			committed = fmt.Sprint(o.Committed)
		}
		fmt.Fprintf(w, "  %s partition %d: offset %d (committed: %s)\n", o.Topic, o.Partition, o.Offset, committed)
	}
}
