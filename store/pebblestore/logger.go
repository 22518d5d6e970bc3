package pebblestore

import (
	"fmt"
	"log/slog"
)

// logger passes Pebble's messages to a slog.Logger, as Options.Logger says.
type logger struct{ l *slog.Logger }

// Infof logs at debug level: see Options.Logger.
func (l logger) Infof(format string, args ...any) {
	l.l.Debug(fmt.Sprintf(format, args...), "source", "pebble")
}

func (l logger) Errorf(format string, args ...any) {
	l.l.Error(fmt.Sprintf(format, args...), "source", "pebble")
}

// Fatalf logs, then panics: Pebble calls it on an internal invariant violation (a bug or
// corruption) and requires that it does not return, since going on could damage the
// DB. Pebble's default logger exits the process instead.
func (l logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.l.Error(msg, "source", "pebble", "fatal", true)
	panic("pebblestore: fatal pebble error: " + msg)
}
