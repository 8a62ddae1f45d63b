package online

import (
	"sort"
	"strings"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/registry"
)

// requestColumns are the request's columns, entities then request
// context, and the row count they share.
func requestColumns(req *Request) ([]Column, int, error) {
	cols := req.Entities
	if len(req.RequestContext) > 0 {
		cols = append(append([]Column(nil), req.Entities...), req.RequestContext...)
	}
	if len(cols) == 0 {
		return nil, 0, core.Invalidf("entities: at least one entity column is required")
	}
	rows := len(cols[0].Values)
	for _, c := range cols[1:] {
		if len(c.Values) != rows {
			return nil, 0, core.Invalidf("entities: all entity columns must have the same number of values (%s has %d, %s has %d)",
				cols[0].Name, rows, c.Name, len(c.Values))
		}
	}
	return cols, rows, nil
}

// prepareEntities classifies and types the request columns into m's join
// keys and request data (Feast's
// _prepare_entities_to_read_from_online_store): step 2 of the design.
func prepareEntities(m *readMem, p *plan, req *Request, cols []Column) error {
	keyCols, reqData := m.keyCols[:0], m.reqData[:0]
	for ci, c := range cols {
		if rf, ok := p.checkedRequest[c.Name]; ok {
			field := "entities"
			if ci >= len(req.Entities) {
				field = "request_context"
			}
			if err := checkRequestColumn(field, c, rf); err != nil {
				return err
			}
		}
		vals, err := typedEntity(p, c)
		if err != nil {
			return err
		}
		switch {
		case hasKey(p.requestData, c.Name):
			reqData = append(reqData, Column{Name: c.Name, Values: vals})
		case p.joinKeys[c.Name]:
			keyCols = appendKeyCol(keyCols, keyCol{c.Name, vals})
		default:
			if jk, ok := p.joinKeyOf[c.Name]; ok {
				keyCols = appendKeyCol(keyCols, keyCol{jk, vals})
			}
		}
	}
	m.keyCols, m.reqData = keyCols, reqData
	if len(reqData) != len(p.requestData) {
		return missingRequestData(p, reqData)
	}
	return nil
}

// typedEntity types a join-key column as declared. Copy on write: values
// already of the declared type (the usual case) are used as sent, without
// a new slice.
func typedEntity(p *plan, c Column) ([]core.Value, error) {
	vals := c.Values
	t, ok := p.typeOf[c.Name]
	if !ok {
		return vals, nil
	}
	var conv []core.Value
	for i, v := range vals {
		if v.IsNull() || t == core.Invalid || v.Type == t {
			if conv != nil {
				conv[i] = v
			}
			continue
		}
		if conv == nil {
			conv = make([]core.Value, len(vals))
			copy(conv, vals[:i])
		}
		var err error
		if conv[i], err = coerce(v, t, c.Name); err != nil {
			return nil, err
		}
	}
	if conv != nil {
		return conv, nil
	}
	return vals, nil
}

func missingRequestData(p *plan, reqData []Column) error {
	var missing []string
	for n := range p.requestData {
		found := false
		for _, c := range reqData {
			found = found || c.Name == n
		}
		if !found {
			missing = append(missing, "'"+n+"'")
		}
	}
	sort.Strings(missing)
	return core.Errorf(core.KindNotFound, "RequestDataNotFoundInEntityRowsException",
		"Required request data source features [%s] not found in the entity rows, but required by feature views", strings.Join(missing, ", "))
}

func hasKey(m map[string]core.ValueType, k string) bool {
	_, ok := m[k]
	return ok
}

// keyCol is a join-key column of the request, named as requested (the
// join key itself or a join_key_map alias).
type keyCol struct {
	name   string
	values []core.Value
}

func appendKeyCol(cols []keyCol, c keyCol) []keyCol { return append(cols, c) }

func isKeyCol(cols []keyCol, name string) bool {
	for _, c := range cols {
		if c.name == name && name != registry.DummyJoinKey {
			return true
		}
	}
	return false
}

func keyColNames(cols []keyCol) []string {
	out := make([]string, 0, len(cols))
	for _, c := range cols {
		if c.name != registry.DummyJoinKey {
			out = append(out, c.name)
		}
	}
	return out
}

// missingKeys lists the project's join keys the request did not supply.
func missingKeys(expected []string, cols []keyCol, g *group) []string {
	var out []string
	for _, k := range expected {
		found := false
		for _, c := range cols {
			jk := c.name
			if real, ok := g.aliasToJoinKey[jk]; ok {
				jk = real
			}
			found = found || c.name == k || jk == k
		}
		if !found {
			out = append(out, k)
		}
	}
	return out
}

// missingParts lists the request columns of g's key that parts (the key
// columns the request gave, by join key) lacks.
func missingParts(g *group, parts []onlinestore.KeyPart) []string {
	var out []string
	for _, name := range g.keyNames {
		found := false
		for _, pt := range parts {
			found = found || pt.Name == g.keyOfName[name]
		}
		if !found {
			out = append(out, name)
		}
	}
	return out
}

// pyList prints names like Python prints a list of strings.
func pyList(names []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + n + "'")
	}
	b.WriteByte(']')
	return b.String()
}
