package eddy

import "time"

// RestoreListener hears the progress of restoration: of a task's stores from their
// changelogs when the task starts on this instance, and of the global stores from their
// topics when the instance starts (their bootstrap, reported with the global topic as the
// topic). Its methods are called from the goroutine that restores, one store partition
// after another, so they must return quickly. Kafka Streams: StateRestoreListener, set
// with KafkaStreams#setGlobalStateRestoreListener.
type RestoreListener interface {
	// OnRestoreStart is called before the first record of a store partition is restored,
	// with the offsets it restores from (included) and to (excluded).
	OnRestoreStart(topic string, partition int32, storeName string, start, end int64)
	// OnBatchRestored is called after each batch is written and committed locally, with
	// the offset after the batch's last record and the records it held.
	OnBatchRestored(topic string, partition int32, storeName string, batchEnd int64, records int)
	// OnRestoreEnd is called once the store partition has caught up, with the records
	// restored in all.
	OnRestoreEnd(topic string, partition int32, storeName string, total int64, took time.Duration)
}
