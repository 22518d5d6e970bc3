package topology

import (
	"time"
)

// This file holds what the DSL's joins share. Joins in Eddy, as in Kafka Streams, are
// key-based: both inputs must be partitioned alike (copartitioned). A join connects the
// state of both sides to its processors, which puts both sides in one subtopology: the
// engine then checks at start that their topics have the same partition count
// (ErrCopartitioning) and runs them in the same tasks.
//
// Which side was missing reaches user joiners as a found flag beside a zero value,
// where Kafka Streams passes null: a Go value cannot be null, and a zero value alone
// could not tell "no record" from a record holding the zero value.

// sameBuilder reports whether both handles belong to b, and records a problem naming
// operator when the other does not.
func sameBuilder(b, other *Builder, operator string) bool {
	if other != b {
		b.problemf("%s: the two sides belong to different builders", operator)
		return false
	}
	return true
}

// later returns the later of a and b: the timestamp of a join result is the latest of
// its inputs', as in Kafka Streams.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// joinNames are the node names of a join that has a processor per side and a node that
// merges their output: from Named(n) with suffixes, as Kafka Streams derives them;
// generated from the kinds otherwise.
type joinNames struct {
	this, other, merge string
}

func (b *Builder) joinNames(given, thisSuffix, otherSuffix, mergeSuffix, thisKind, otherKind, mergeKind string) joinNames {
	if given != "" {
		return joinNames{
			this:  b.nodeName(given+thisSuffix, ""),
			other: b.nodeName(given+otherSuffix, ""),
			merge: b.nodeName(given+mergeSuffix, ""),
		}
	}
	return joinNames{
		this:  b.nodeName("", thisKind),
		other: b.nodeName("", otherKind),
		merge: b.nodeName("", mergeKind),
	}
}
