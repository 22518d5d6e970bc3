// Package examples holds runnable Eddy applications, one per directory, written against
// the public API only. Each runs on an in-process broker (package
// github.com/eddy-streams/eddy/embedded) by default, so it needs no install, and against
// a real cluster with -brokers.
//
// This directory is a module of its own, so that what the examples need never enters the
// module graph of applications that embed Eddy.
package examples
