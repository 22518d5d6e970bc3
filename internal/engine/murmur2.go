package engine

import "encoding/binary"

// murmur2 is the 32-bit MurmurHash2 that Kafka's default partitioner applies to record
// keys (org.apache.kafka.common.utils.Utils#murmur2, seed 0x9747b28c), so that Eddy puts
// a key on the same partition as every Kafka client with default settings.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// keyPartition is Kafka's default partition of a keyed record among n.
func keyPartition(key []byte, n int32) int32 {
	return (murmur2(key) & 0x7fffffff) % n
}
