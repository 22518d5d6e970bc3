package eddy

import (
	"errors"

	"github.com/eddy-streams/eddy/internal/engine"
	"github.com/eddy-streams/eddy/internal/statedir"
)

var (
	// ErrInvalidConfig wraps every configuration problem that New reports.
	ErrInvalidConfig = errors.New("eddy: invalid configuration")
	// ErrStateDirLocked is returned by Run and CleanUp when another instance, in this
	// process or another, or cmd/eddy uses the same application's state directory.
	ErrStateDirLocked = statedir.ErrLocked
	// ErrAlreadyRunning is returned by a second call of Run.
	ErrAlreadyRunning = errors.New("eddy: app already ran")

	// ErrMissingTopics is returned by Run when a source, sink or global store topic does
	// not exist. Eddy creates only its internal topics: changelogs and repartition topics.
	ErrMissingTopics = engine.ErrMissingTopics
	// ErrCopartitioning is returned by Run when topics that one subtopology reads have
	// different partition counts, or a repartition topic asks for a count other than that
	// of the topics it is copartitioned with; the error names the topics and their counts.
	ErrCopartitioning = engine.ErrCopartitioning
	// ErrInternalTopic is returned by Run when an existing changelog topic has the wrong
	// partition count or is not compacted, when an existing repartition topic has another
	// partition count than the topology needs, or when the counts of repartition topics
	// cannot be derived (they depend on each other in a cycle).
	ErrInternalTopic = engine.ErrInternalTopic
	// ErrClusterUnavailable is returned by Run when no broker of the cluster has
	// answered for OutageTimeout, at start or mid-run, or when the instance's group
	// membership kept failing with transient errors that long.
	ErrClusterUnavailable = engine.ErrClusterUnavailable
)
