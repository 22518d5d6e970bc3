// Package statedir is the layout of an application's local state directory,
// <StateDir>/<application id>, shared by the App and cmd/eddy: its lock, the files that
// outlive a cleanup, and the cleanup itself (Kafka Streams: StateDirectory).
//
// The directory holds the lock file, the instance id, one directory per task named by
// its task id (0_1) and, when the topology has global stores, the directory global.
package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

const (
	// LockFile is the file that Lock locks.
	LockFile = ".lock"
	// InstanceIDFile holds the id of the instance that uses the directory.
	InstanceIDFile = "instance-id"
	// GlobalDir holds the global stores.
	GlobalDir = "global"
)

// ErrLocked is returned (wrapped) by Lock when another holder has the lock.
var ErrLocked = errors.New("eddy: state directory is in use by another instance")

// State lists the entries of dir that Wipe deletes, sorted: everything but the lock file
// and the instance id. A directory that does not exist has none.
func State(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eddy: reading the state directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		if name := e.Name(); name != LockFile && name != InstanceIDFile {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Wipe deletes the local state in dir: every task's stores, the global stores and
// whatever else the directory holds, except the lock file, which the caller holds, and
// the instance id, which names the instance rather than its state (its exactly-once
// producer keeps fencing a previous life's open transaction, and Kafka's tools keep
// telling instances apart). REQUIRES: the caller holds dir's lock.
func Wipe(dir string) error {
	names, err := State(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("eddy: deleting local state: %w", err)
		}
	}
	return nil
}
