package engine

import (
	"maps"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// TestChangelogConfigKeepsAPolicyThatCompactsAndForcesCompactOtherwise also checks that
// every changelog pins CreateTime unless its store sets a timestamp type itself.
func TestChangelogConfigKeepsAPolicyThatCompactsAndForcesCompactOtherwise(t *testing.T) {
	kv := func(cfg map[string]string) store.Definition {
		return store.KeyValue("s", serde.String(), serde.String(), store.WithChangelogConfig(cfg))
	}
	cases := []struct {
		name string
		def  store.Definition
		want map[string]string
	}{
		{"a store without a policy gets compact", kv(nil), map[string]string{"cleanup.policy": "compact"}},
		{"compact,delete is kept with the other settings", kv(map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "5"}),
			map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "5"}},
		{"delete,compact with spaces is kept", kv(map[string]string{"cleanup.policy": "delete, compact"}), map[string]string{"cleanup.policy": "delete, compact"}},
		{"delete alone becomes compact", kv(map[string]string{"cleanup.policy": "delete"}), map[string]string{"cleanup.policy": "compact"}},
		{"a policy that only contains the word is not compact", kv(map[string]string{"cleanup.policy": "nocompact"}), map[string]string{"cleanup.policy": "compact"}},
		{"a window store keeps compact,delete and its retention", store.Window("w", serde.String(), serde.Int64(), time.Hour, time.Minute),
			map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "90000000"}},
		{"a session store keeps compact,delete and its retention", store.Session("s", serde.String(), serde.Int64(), time.Hour),
			map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "90000000"}},
		{"a timestamp type of the store's is kept", kv(map[string]string{"message.timestamp.type": "LogAppendTime"}),
			map[string]string{"cleanup.policy": "compact", "message.timestamp.type": "LogAppendTime"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, set := c.want["message.timestamp.type"]; !set {
				c.want["message.timestamp.type"] = "CreateTime"
			}
			if got := changelogConfig(c.def); !maps.Equal(got, c.want) {
				t.Errorf("changelogConfig = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCompactsReadsTheCommaSeparatedPolicy(t *testing.T) {
	for policy, want := range map[string]bool{
		"compact": true, "compact,delete": true, "delete,compact": true, " compact ": true,
		"delete": false, "": false, "compacted": false, "delete;compact": false,
	} {
		if got := compacts(policy); got != want {
			t.Errorf("compacts(%q) = %v, want %v", policy, got, want)
		}
	}
}
