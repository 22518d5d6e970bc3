package processor_test

import (
	"fmt"
	"log"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// emitter forwards a tick every second of wall-clock time, whether records arrive or
// not.
type emitter struct{}

func (p *emitter) Init(ctx processor.InitContext) error {
	out, err := processor.ContextOf[string, int64](ctx)
	if err != nil {
		return err
	}
	_, err = ctx.Schedule(time.Second, processor.WallClockTime, func(at time.Time) error {
		out.Forward(processor.Record[string, int64]{Key: "tick", Value: 1, Timestamp: at})
		return nil
	})
	return err
}

func (p *emitter) Process(processor.Context[string, int64], processor.Record[string, string]) error {
	return nil
}

// A punctuator that forwards records takes the Context of the processor's output types
// from its InitContext.
func ExampleContextOf() {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddProcessor(b, "emitter", func() processor.Processor[string, string, string, int64] { return &emitter{} }, "in")
	topology.AddSink(b, "ticks", "ticks", serde.String(), serde.Int64(), []string{"emitter"})
	topo, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	d, err := eddytest.New(topo, eddytest.WallClock(time.UnixMilli(0)))
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	for range 2 {
		if err := d.AdvanceWallClock(time.Second); err != nil {
			log.Fatal(err)
		}
	}
	ticks, err := eddytest.OutputTopic(d, "ticks", serde.String(), serde.Int64()).ReadAll()
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range ticks {
		fmt.Println(r.Key, r.Value, r.Timestamp.UnixMilli())
	}
	// Output:
	// tick 1 1000
	// tick 1 2000
}
