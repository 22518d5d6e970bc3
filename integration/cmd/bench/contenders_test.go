package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeScript(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "build.sh"), []byte("#!/usr/bin/env bash\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBuildKafkaStreamsRunsThePrintedCommandWithTheFlags(t *testing.T) {
	dir := writeScript(t, "echo building >&2\necho 'echo'\n")
	argv, skip := buildKafkaStreams(context.Background(), dir)
	if skip != "" {
		t.Fatalf("skipped: %s", skip)
	}
	out, err := exec.Command(argv[0], append(argv[1:], "--scenario", "count 1")...).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "--scenario count 1" {
		t.Errorf("the command got %q, want the flags as given", got)
	}
}

func TestBuildKafkaStreamsSaysWhyItIsSkipped(t *testing.T) {
	_, skip := buildKafkaStreams(context.Background(), t.TempDir())
	if !strings.HasPrefix(skip, "not built: ") || !strings.Contains(skip, "absent") {
		t.Errorf("no script: %q", skip)
	}
	_, skip = buildKafkaStreams(context.Background(), writeScript(t, "echo 'mvn is not installed' >&2\nexit 1\n"))
	if !strings.HasPrefix(skip, "not built: ") || !strings.Contains(skip, "mvn is not installed") {
		t.Errorf("failing script: %q", skip)
	}
}
