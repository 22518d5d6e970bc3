//go:build !unix

package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Lock creates dir's lock file exclusively. Unlike the flock of Unix systems, a crashed
// instance leaves the file behind, and it must be removed by hand. ErrLocked (wrapped)
// when the file exists.
func Lock(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%w: %s (remove %s if no instance runs)", ErrLocked, dir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("eddy: state directory lock: %w", err)
	}
	return func() {
		f.Close()
		os.Remove(path)
	}, nil
}
