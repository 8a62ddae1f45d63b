package online

import (
	"unsafe"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// serializeKeys builds the store requests into m: one per view group,
// unique keys only, each entity key serialized once (v2/v3). Groups keyed
// by the same request columns (every view of one entity, the usual case)
// share one serialized key list and fan-out (row -> unique key index).
func (s *Service) serializeKeys(m *readMem, p *plan, rows int) error {
	m.reads = growLen(m.reads, len(p.groups))
	reads := m.reads
	m.fan = growLen(m.fan, len(p.groups)*rows)
	fanSlab := m.fan
	m.fanout = growLen(m.fanout, len(p.groups))
	fanout := m.fanout // row -> unique key index
	keySets := m.keySets[:0]
	keyBuf := m.keyBuf[:0]
	keySlab := growCap(m.keys, len(p.groups)*rows)
	// Each group has at most one key part per request key column.
	m.parts = growLen(m.parts, len(p.groups)*len(m.keyCols))
	partsSlab := m.parts
	m.pcols = growLen(m.pcols, len(p.groups)*len(m.keyCols))
	colsSlab := m.pcols
	for gi, g := range p.groups {
		lo, hi := gi*len(m.keyCols), (gi+1)*len(m.keyCols)
		parts := partsSlab[lo:lo:hi]
		partCols := colsSlab[lo:lo:hi]
		parts, partCols, err := groupKeyParts(p, g, m.keyCols, parts, partCols, rows)
		if err != nil {
			return err
		}
		rd := &reads[gi]
		rd.View = g.storage
		rd.Features = g.storeFeat
		if ks := findKeySet(keySets, parts, partCols); ks >= 0 {
			rd.Keys, fanout[gi] = keySets[ks].keys, keySets[ks].fan
			continue
		}
		if need := len(keyBuf) + rows*entityKeySize(parts); cap(keyBuf) < need {
			keyBuf = make([]byte, 0, need)
		}
		fan := fanSlab[gi*rows : (gi+1)*rows : (gi+1)*rows]
		var seen map[string]int
		for r := 0; r < rows; r++ {
			for i := range parts {
				v := partCols[i][r]
				if v.IsNull() {
					return core.Invalidf("entities.%s: row %d is null; join key values cannot be null", parts[i].Name, r)
				}
				parts[i].Value = v
			}
			start := len(keyBuf)
			keyBuf, err = onlinestore.AppendEntityKey(keyBuf, parts, s.KeyVersion)
			if err != nil {
				return err
			}
			key := keyBuf[start:len(keyBuf):len(keyBuf)]
			if rows > 1 {
				if seen == nil {
					if m.seen == nil {
						m.seen = make(map[string]int, rows)
					}
					seen = m.seen
					clear(seen)
				}
				// The map key aliases key's bytes, which are never written
				// again: later keys are appended after them (or into a new
				// array when keyBuf grows).
				ks := unsafe.String(unsafe.SliceData(key), len(key))
				if u, ok := seen[ks]; ok {
					fan[r] = u
					keyBuf = keyBuf[:start]
					continue
				}
				seen[ks] = len(rd.Keys)
			}
			if rd.Keys == nil {
				rd.Keys = keySlab[len(keySlab):len(keySlab):cap(keySlab)]
			}
			fan[r] = len(rd.Keys)
			rd.Keys = append(rd.Keys, key)
		}
		fanout[gi] = fan
		keySlab = keySlab[:len(keySlab)+len(rd.Keys)]
		keySets = append(keySets, keySet{parts: parts, cols: partCols, keys: rd.Keys, fan: fan})
	}
	m.keyBuf, m.keys, m.keySets = keyBuf, keySlab, keySets
	return nil
}

// groupKeyParts picks g's join keys from the request's key columns
// (through its join_key_map), sorted by join-key name, into parts and
// partCols; a group without every one of its keys is refused.
func groupKeyParts(p *plan, g *group, keyCols []keyCol, parts []onlinestore.KeyPart, partCols [][]core.Value, rows int) ([]onlinestore.KeyPart, [][]core.Value, error) {
	for _, kc := range keyCols {
		jk := kc.name
		if real, ok := g.aliasToJoinKey[jk]; ok {
			jk = real
		}
		if !g.tableJoinKeys[jk] {
			continue
		}
		replaced := false
		for i := range parts {
			if parts[i].Name == jk {
				partCols[i], replaced = kc.values, true
			}
		}
		if !replaced {
			parts = append(parts, onlinestore.KeyPart{Name: jk})
			partCols = append(partCols, kc.values)
		}
	}
	if len(parts) == 0 || rows == 0 {
		return nil, nil, core.Errorf(core.KindInvalidArgument, "KeyError",
			"Missing join key values for keys: %s. No values provided for keys: %s. Provided join_key_values: %s",
			pyList(missingKeys(p.expectedKeys, keyCols, g)), pyList(p.expectedKeys), pyList(keyColNames(keyCols)))
	}
	if len(parts) < len(g.tableJoinKeys) {
		// A composite key given in part: Feast 0.67 reads a key made
		// of the parts given, which no row has, and answers NOT_FOUND;
		// it is the caller's mistake, so it is refused.
		return nil, nil, core.Errorf(core.KindInvalidArgument, "KeyError",
			"Missing join key values for keys: %s. Feature view %s is keyed by %s: every entity row needs a value for each. Provided join_key_values: %s",
			pyList(missingParts(g, parts)), g.nameToUse, pyList(g.keyNames), pyList(keyColNames(keyCols)))
	}
	// Sort key parts by join-key name once; the column order follows
	// (insertion sort: there are one or two parts).
	for i := 1; i < len(parts); i++ {
		for j := i; j > 0 && parts[j].Name < parts[j-1].Name; j-- {
			parts[j], parts[j-1] = parts[j-1], parts[j]
			partCols[j], partCols[j-1] = partCols[j-1], partCols[j]
		}
	}
	return parts, partCols, nil
}

// keySet is the serialized keys of one set of join keys read from one set
// of request columns, with the row -> unique key fan-out.
type keySet struct {
	parts []onlinestore.KeyPart
	cols  [][]core.Value
	keys  [][]byte
	fan   []int
}

// findKeySet returns the index of the key set built from the same join
// keys and the very same request columns, or -1.
func findKeySet(sets []keySet, parts []onlinestore.KeyPart, cols [][]core.Value) int {
next:
	for i := range sets {
		ks := &sets[i]
		if len(ks.parts) != len(parts) {
			continue
		}
		for j := range parts {
			if ks.parts[j].Name != parts[j].Name || len(ks.cols[j]) != len(cols[j]) ||
				unsafe.SliceData(ks.cols[j]) != unsafe.SliceData(cols[j]) {
				continue next
			}
		}
		return i
	}
	return -1
}

// entityKeySize estimates the serialized size of one entity key.
func entityKeySize(parts []onlinestore.KeyPart) int {
	n := 4
	for _, p := range parts {
		n += 8 + len(p.Name) + 8 + 8 + len(p.Value.S)
	}
	return n
}
