package redis

import (
	"encoding/binary"
)

// The key layout Feast uses: one hash per entity key and project, a 4-byte
// murmur3 field per feature, a "_ts:<view>" field per view, and the cache
// of encoded field names reads use.

// FieldName is the hash field of a feature: murmur3 x86_32 (seed 0) of
// "<view>:<feature>", little-endian.
func FieldName(view, feature string) string {
	h := murmur3x86_32(view + ":" + feature)
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], h)
	return string(b[:])
}

// redisKey is the entity key followed by the project name.
func (s *Store) redisKey(dst, key []byte) []byte {
	dst = append(dst, key...)
	return append(dst, s.project...)
}

// fieldKey names one hash field: a feature of a view, or the view's
// "_ts:<view>" field when feature is empty (feature names never are).
type fieldKey struct{ view, feature string }

// fieldEntry is a hash field name ready for either client: boxed for
// go-redis, RESP-encoded for respPool.
type fieldEntry struct {
	name string
	arg  any
	bulk string
}

// fieldMap holds the field names of the features served so far (a
// cowMap's published map: read without a lock, never modified).
type fieldMap map[fieldKey]fieldEntry

func (s *Store) fieldCache() fieldMap { return s.fields.load() }

// appendFields appends the HMGET fields of features of view, then its _ts
// field.
func (m fieldMap) appendFields(s *Store, dst []fieldEntry, view string, features []string) []fieldEntry {
	for _, f := range features {
		e, ok := m[fieldKey{view, f}]
		if !ok {
			e = s.addField(fieldKey{view, f})
		}
		dst = append(dst, e)
	}
	e, ok := m[fieldKey{view, ""}]
	if !ok {
		e = s.addField(fieldKey{view, ""})
	}
	return append(dst, e)
}

// maxCachedFields bounds the field cache (features of every view served).
const maxCachedFields = 1 << 16

func (s *Store) addField(k fieldKey) fieldEntry {
	name := "_ts:" + k.view
	if k.feature != "" {
		name = FieldName(k.view, k.feature)
	}
	e := fieldEntry{name: name, arg: name, bulk: string(appendBulk(nil, name))}
	e, _ = s.fields.loadOrStore(k, e, maxCachedFields)
	return e
}
