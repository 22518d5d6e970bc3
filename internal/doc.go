// Package internal and the packages below it hold the engine: partition groups and stream
// time, the record collector, tasks, and the poll, process and commit loop. Nothing here is
// part of Eddy's public API.
package internal
