// Package examples holds runnable Eddy applications, one per directory, written against
// the public API only. Each runs on franz-go's in-process broker (kfake) by default, so
// it needs no install, and against a real cluster with -brokers.
//
// This directory is a module of its own, so that the embedded broker never enters the
// module graph of applications that embed Eddy.
package examples
