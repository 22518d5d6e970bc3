package embedded_test

import (
	"context"
	"fmt"

	"github.com/eddy-streams/eddy/embedded"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A broker with one topic, a record written to it and read back. An Eddy application
// gets the same address with eddy.SeedBrokers(broker.Seeds()...).
func Example() {
	ctx := context.Background()
	broker, err := embedded.Start(ctx, embedded.Topic("greetings", 1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer broker.Close()

	client, err := kgo.NewClient(kgo.SeedBrokers(broker.Seeds()...), kgo.ConsumeTopics("greetings"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	if err := client.ProduceSync(ctx, &kgo.Record{Topic: "greetings", Value: []byte("hello")}).FirstErr(); err != nil {
		fmt.Println(err)
		return
	}
	fetches := client.PollFetches(ctx)
	if err := fetches.Err(); err != nil {
		fmt.Println(err)
		return
	}
	fetches.EachRecord(func(r *kgo.Record) { fmt.Println(string(r.Value)) })
	// Output: hello
}
