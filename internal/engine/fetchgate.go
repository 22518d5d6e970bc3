package engine

import (
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchGate bounds the records a task holds fetched but not processed, per input
// partition: it pauses fetching a partition once its task holds max records of it, and
// resumes it once the task holds fewer. Without it, a task that waits (for an empty
// partition under max task idle, or for its restoration) would buffer whatever the
// client fetches for it. Records the client fetched before the pause may still come;
// the task takes them, so the bound is soft by at most one fetch. franz-go drops what it
// buffered for a partition when it is paused and fetches it again once resumed; that
// fetch waits for the one in flight to the same broker, which is why the engine bounds
// the broker's wait (kgo.FetchMaxWait) to 500 ms. Kafka Streams:
// buffered.records.per.partition, which pauses partitions the same way.
//
// Used from the loop's goroutine only.
type fetchGate struct {
	max int
	// pause and resume are the client's PauseFetchPartitions and ResumeFetchPartitions.
	pause, resume func(map[string][]int32)
	// paused holds the partitions the gate paused, with the task that reads each.
	paused map[topicPartition]processor.TaskID
}

func newFetchGate(client *kgo.Client, max int) *fetchGate {
	return &fetchGate{
		max:    max,
		pause:  func(p map[string][]int32) { client.PauseFetchPartitions(p) },
		resume: client.ResumeFetchPartitions,
		paused: map[topicPartition]processor.TaskID{},
	}
}

// update pauses and resumes the input partitions of tasks by what each task holds, and
// resumes the partitions it paused whose task is gone (revoked or lost), as franz-go
// keeps a partition paused across rebalances. It runs after every poll, so it allocates
// nothing unless a partition changes state.
func (g *fetchGate) update(tasks map[processor.TaskID]*task.Task) {
	var pause, resume map[string][]int32
	add := func(m *map[string][]int32, tp topicPartition) {
		if *m == nil {
			*m = map[string][]int32{}
		}
		(*m)[tp.topic] = append((*m)[tp.topic], tp.partition)
	}
	for id, t := range tasks {
		t.EachBuffered(func(topic string, n int) {
			tp := topicPartition{topic, id.Partition}
			_, paused := g.paused[tp]
			switch full := n >= g.max; {
			case full && !paused:
				g.paused[tp] = id
				add(&pause, tp)
			case !full && paused:
				delete(g.paused, tp)
				add(&resume, tp)
			}
		})
	}
	for tp, id := range g.paused {
		if tasks[id] == nil {
			delete(g.paused, tp)
			add(&resume, tp)
		}
	}
	if pause != nil {
		g.pause(pause)
	}
	if resume != nil {
		g.resume(resume)
	}
}
