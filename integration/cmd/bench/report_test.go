package main

import (
	"strings"
	"testing"
)

func TestSameVersion(t *testing.T) {
	tests := []struct {
		name, broker string
		guessed      bool
		ks, want     string
	}{
		{"a broker of Kafka Streams' version says so", "4.3.1", false, "4.3.1", "the same version as Kafka Streams (4.3.1)"},
		{"a broker of another version says it is not Kafka Streams'", "4.4.0", false, "4.3.1", "NOT Kafka Streams' version (4.3.1)"},
		{"an external broker's guessed version is never called the same", "v4.3", true, "4.3.1", "is unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameVersion(tt.broker, tt.guessed, tt.ks); !strings.Contains(got, tt.want) {
				t.Errorf("sameVersion(%q, %v, %q) = %q, want it to contain %q", tt.broker, tt.guessed, tt.ks, got, tt.want)
			}
		})
	}
}
