package state

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/eddy-streams/eddy/serde"
)

// Serde turns the text an operator types into a key's bytes, and bytes into text, in
// the way of one of Eddy's built-in serdes.
type Serde struct {
	Name   string
	encode func(string) ([]byte, error)
	decode func([]byte) (string, error)
}

// SerdeNames are the names SerdeNamed knows, raw first (the default).
var SerdeNames = []string{"raw", "string", "bytes", "int64", "int32", "float64", "json"}

// SerdeNamed returns the serde called name:
//
//   - raw: text as given, or hex after 0x; shown quoted when it is printable UTF-8, else
//     as 0x and hex;
//   - string: serde.String, shown quoted;
//   - bytes: serde.Bytes, typed and shown as hex (0x optional);
//   - int64, int32, float64: serde.Int64, serde.Int32, serde.Float64, as decimal numbers;
//   - json: serde.JSON, typed and shown as JSON text (object keys keep their order).
func SerdeNamed(name string) (Serde, error) {
	switch name {
	case "raw":
		return Serde{name, func(s string) ([]byte, error) {
			if h, ok := strings.CutPrefix(s, "0x"); ok {
				return hex.DecodeString(h)
			}
			return []byte(s), nil
		}, func(b []byte) (string, error) { return Raw(b), nil }}, nil
	case "string":
		return typed(name, serde.String(), func(s string) (string, error) { return s, nil }, strconv.Quote), nil
	case "bytes":
		return typed(name, serde.Bytes(), func(s string) ([]byte, error) { return hex.DecodeString(strings.TrimPrefix(s, "0x")) },
			func(b []byte) string { return "0x" + hex.EncodeToString(b) }), nil
	case "int64":
		return typed(name, serde.Int64(), func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) },
			func(v int64) string { return strconv.FormatInt(v, 10) }), nil
	case "int32":
		return typed(name, serde.Int32(), func(s string) (int32, error) {
			v, err := strconv.ParseInt(s, 10, 32)
			return int32(v), err
		}, func(v int32) string { return strconv.FormatInt(int64(v), 10) }), nil
	case "float64":
		return typed(name, serde.Float64(), func(s string) (float64, error) { return strconv.ParseFloat(s, 64) },
			func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }), nil
	case "json":
		return typed(name, serde.JSON[json.RawMessage](), func(s string) (json.RawMessage, error) { return json.RawMessage(s), nil },
			func(v json.RawMessage) string { return string(v) }), nil
	}
	return Serde{}, fmt.Errorf("unknown serde %q (known: %s)", name, strings.Join(SerdeNames, ", "))
}

func typed[T any](name string, s serde.Serde[T], parse func(string) (T, error), format func(T) string) Serde {
	return Serde{
		Name: name,
		encode: func(text string) ([]byte, error) {
			v, err := parse(text)
			if err != nil {
				return nil, err
			}
			return s.Serialize("", v)
		},
		decode: func(b []byte) (string, error) {
			v, err := s.Deserialize("", b)
			if err != nil {
				return "", err
			}
			return format(v), nil
		},
	}
}

// Encode returns the bytes of the text an operator typed.
func (s Serde) Encode(text string) ([]byte, error) {
	b, err := s.encode(text)
	if err != nil {
		return nil, fmt.Errorf("%q is not a %s: %w", text, s.Name, err)
	}
	return b, nil
}

// Show returns b as text; bytes the serde cannot read are shown raw, marked.
func (s Serde) Show(b []byte) string {
	text, err := s.decode(b)
	if err != nil {
		return fmt.Sprintf("!%s(%s)", s.Name, Raw(b))
	}
	return text
}

// Raw shows b quoted when it is printable UTF-8, else as 0x and hex.
func Raw(b []byte) string {
	if utf8.Valid(b) && strings.IndexFunc(string(b), func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return strconv.Quote(string(b))
	}
	return "0x" + hex.EncodeToString(b)
}

// Format says how entries are shown.
type Format struct {
	Key, Value Serde
	// Timestamped values start with the timestamp of the record that set them, 8 bytes
	// big-endian milliseconds, as the DSL's tables and (windowed) aggregations keep them
	// (topology.ValueAndTimestamp).
	Timestamped bool
}

// Show returns e as one line for a store of kind k.
func (f Format) Show(k Kind, e Entry) string {
	var b strings.Builder
	b.WriteString("key=" + f.Key.Show(e.Key))
	switch k {
	case Window:
		b.WriteString(" window_start=" + showTime(e.Start))
		if e.HasSeq {
			fmt.Fprintf(&b, " seq=%d", e.Seq)
		}
	case Session:
		b.WriteString(" session_start=" + showTime(e.Start) + " session_end=" + showTime(e.End))
	}
	v := e.Value
	if f.Timestamped {
		if len(v) < 8 {
			return b.String() + " value=" + fmt.Sprintf("!timestamped(%s)", Raw(v))
		}
		b.WriteString(" timestamp=" + showTime(int64(binary.BigEndian.Uint64(v))))
		v = v[8:]
	}
	b.WriteString(" value=" + f.Value.Show(v))
	return b.String()
}

// showTime shows milliseconds since the epoch in RFC 3339, UTC.
func showTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
