// Package serde converts Go values to bytes and back.
//
// A Serde[T] is attached wherever typed values meet Kafka's bytes: at sources, sinks and
// state stores. The engine itself only moves []byte. The package holds the Serde
// interface and the built-in serdes (string, bytes, integers, floats, JSON).
//
// serde imports only the standard library.
package serde
