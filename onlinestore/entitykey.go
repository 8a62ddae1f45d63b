package onlinestore

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/feastgo/feastgo/core"
)

// KeyPart is one join key and its typed value.
type KeyPart struct {
	Name  string
	Value core.Value
}

// AppendEntityKey appends Feast's online entity-key serialization of parts
// (contract section 3) to dst. parts must already be sorted by Name (see
// SortKeyParts); version is entity_key_serialization_version (1, 2 or 3).
// Only string, bytes, int32, int64 and unix_timestamp values can be keys.
func AppendEntityKey(dst []byte, parts []KeyPart, version int) ([]byte, error) {
	if version >= 3 {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(parts)))
	}
	for _, p := range parts {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(core.String))
		if version >= 3 {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p.Name)))
		}
		dst = append(dst, p.Name...)
	}
	for _, p := range parts {
		v := p.Value
		switch v.Type {
		case core.String, core.Bytes:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v.Type))
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v.S)))
			dst = append(dst, v.S...)
		case core.Int32:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(core.Int32))
			dst = binary.LittleEndian.AppendUint32(dst, 4)
			dst = binary.LittleEndian.AppendUint32(dst, uint32(int32(v.I)))
		case core.Int64, core.UnixTimestamp:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v.Type))
			if version <= 1 && v.Type == core.Int64 {
				dst = binary.LittleEndian.AppendUint32(dst, 4)
				dst = binary.LittleEndian.AppendUint32(dst, uint32(int32(v.I)))
				continue
			}
			dst = binary.LittleEndian.AppendUint32(dst, 8)
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v.I))
		default:
			return dst, core.Invalidf("entity key %q: value type %s is not supported in entity keys", p.Name, v.Type)
		}
	}
	return dst, nil
}

// SortKeyParts orders parts by join-key name, as Feast does before
// serializing (byte order of UTF-8 equals Python's code-point order).
func SortKeyParts(parts []KeyPart) {
	if len(parts) < 2 {
		return
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Name < parts[j].Name })
}

// ParseEntityKeyV3 decodes a version-3 key back into its parts. It is the
// inverse of AppendEntityKey for version 3 and rejects malformed input.
func ParseEntityKeyV3(b []byte) ([]KeyPart, error) {
	rd := func() (uint32, error) {
		if len(b) < 4 {
			return 0, fmt.Errorf("entity key truncated")
		}
		v := binary.LittleEndian.Uint32(b)
		b = b[4:]
		return v, nil
	}
	bytesN := func(n uint32) ([]byte, error) {
		if uint64(len(b)) < uint64(n) {
			return nil, fmt.Errorf("entity key truncated")
		}
		out := b[:n]
		b = b[n:]
		return out, nil
	}
	n, err := rd()
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(len(b))/8 {
		return nil, fmt.Errorf("entity key claims %d join keys", n)
	}
	parts := make([]KeyPart, n)
	for i := range parts {
		if t, err := rd(); err != nil || t != uint32(core.String) {
			return nil, fmt.Errorf("entity key: join key %d is not a string", i)
		}
		l, err := rd()
		if err != nil {
			return nil, err
		}
		name, err := bytesN(l)
		if err != nil {
			return nil, err
		}
		parts[i].Name = string(name)
	}
	for i := range parts {
		t, err := rd()
		if err != nil {
			return nil, err
		}
		l, err := rd()
		if err != nil {
			return nil, err
		}
		raw, err := bytesN(l)
		if err != nil {
			return nil, err
		}
		v := core.Value{Type: core.ValueType(t)}
		switch v.Type {
		case core.String, core.Bytes:
			v.S = string(raw)
		case core.Int32:
			if l != 4 {
				return nil, fmt.Errorf("entity key: int32 of %d bytes", l)
			}
			v.I = int64(int32(binary.LittleEndian.Uint32(raw)))
		case core.Int64, core.UnixTimestamp:
			if l != 8 {
				return nil, fmt.Errorf("entity key: int64 of %d bytes", l)
			}
			v.I = int64(binary.LittleEndian.Uint64(raw))
		default:
			return nil, fmt.Errorf("entity key: value type %d not supported", t)
		}
		parts[i].Value = v
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("entity key: %d trailing bytes", len(b))
	}
	return parts, nil
}
