package eddytest

import "github.com/eddy-streams/eddy/internal/task"

// ProcessingError is an error from a processor, punctuator or store, naming the task,
// node, topic, partition and offset; the same type as eddy.ProcessingError.
type ProcessingError = task.ProcessingError

// DeserializationError is a record a source could not deserialize; the same type as
// eddy.DeserializationError.
type DeserializationError = task.DeserializationError
