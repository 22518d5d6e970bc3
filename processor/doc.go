// Package processor is the contract between user code and the engine: Record[K,V],
// Processor, the contexts a processor is given (forwarding, punctuation, store access,
// record metadata) and TaskID.
//
// processor imports only the standard library and package serde, so a processor can be
// unit tested without a broker.
package processor
