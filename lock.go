package eddy

import "github.com/eddy-streams/eddy/internal/statedir"

// lockDir takes the lock of an application's state directory, which cmd/eddy takes too
// (statedir.Lock); ErrStateDirLocked (wrapped) while another holder has it.
func lockDir(dir string) (unlock func(), err error) { return statedir.Lock(dir) }
