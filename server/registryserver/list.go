package registryserver

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
)

// Every registry object keeps its name, project and tags either in its spec
// (entities, views, services, ...) or at the top level (data sources).

// holder returns the message that holds an object's name, project and tags.
func holder(m protoreflect.Message) protoreflect.Message {
	if fd := m.Descriptor().Fields().ByName("spec"); fd != nil && fd.Message() != nil {
		return m.Get(fd).Message()
	}
	return m
}

func str(m protoreflect.Message, field protoreflect.Name) string {
	fd := m.Descriptor().Fields().ByName(field)
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	return m.Get(fd).String()
}

// objectName is an object's name.
func objectName(m proto.Message) string { return str(holder(m.ProtoReflect()), "name") }

// objectProject is the project an object belongs to.
func objectProject(m proto.Message) string { return str(holder(m.ProtoReflect()), "project") }

// hasAllTags reports whether an object carries every tag of want, as
// Feast's utils.has_all_tags does (no tags asked: every object).
func hasAllTags(m proto.Message, want map[string]string) bool {
	if len(want) == 0 {
		return true
	}
	h := holder(m.ProtoReflect())
	fd := h.Descriptor().Fields().ByName("tags")
	if fd == nil || !fd.IsMap() {
		return false
	}
	tags := h.Get(fd).Map()
	for k, v := range want {
		got := tags.Get(protoreflect.ValueOfString(k).MapKey())
		if !got.IsValid() || got.String() != v {
			return false
		}
	}
	return true
}

// inProject keeps the objects of project that carry every tag of tags, in
// registry order.
func inProject[T proto.Message](items []T, project string, tags map[string]string) []T {
	var out []T
	for _, it := range items {
		if objectProject(it) == project && hasAllTags(it, tags) {
			out = append(out, it)
		}
	}
	return out
}

// find returns the object of project named name.
func find[T proto.Message](items []T, name, project string) (T, bool) {
	for _, it := range items {
		if objectName(it) == name && objectProject(it) == project {
			return it, true
		}
	}
	var zero T
	return zero, false
}

// page sorts and cuts a list as Feast's apply_pagination_and_sorting does:
// an empty list has all-zero metadata; without a page (page or limit 0)
// everything is returned as one page.
func page[T proto.Message](items []T, pg *registrypb.PaginationParams, so *registrypb.SortingParams) ([]T, *registrypb.PaginationMetadata) {
	if len(items) == 0 {
		return items, &registrypb.PaginationMetadata{}
	}
	if by := strings.TrimSpace(so.GetSortBy()); by != "" {
		items = sortBy(items, so.GetSortBy(), strings.EqualFold(so.GetSortOrder(), "desc"))
	}
	total := int32(len(items))
	if pg.GetPage() <= 0 || pg.GetLimit() <= 0 {
		return items, &registrypb.PaginationMetadata{TotalCount: total, TotalPages: 1}
	}
	p, limit := pg.GetPage(), pg.GetLimit()
	start := min(int64(p-1)*int64(limit), int64(total))
	end := min(start+int64(limit), int64(total))
	pages := (total + limit - 1) / limit
	return items[start:end], &registrypb.PaginationMetadata{Page: p, Limit: limit, TotalCount: total,
		TotalPages: pages, HasNext: p < pages, HasPrevious: p > 1}
}

// sortKey is Feast's sort key: a missing attribute sorts first, text by its
// lower case, numbers by value.
type sortKey struct {
	present bool
	text    string
	num     float64
}

func compareKeys(a, b sortKey) int {
	if c := cmp.Compare(a.text, b.text); c != 0 {
		return c
	}
	if a.present != b.present {
		if a.present {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.num, b.num)
}

// sortBy orders items by a dotted attribute path (stable, as Python's
// sorted is, also when descending).
func sortBy[T proto.Message](items []T, path string, desc bool) []T {
	out := slices.Clone(items)
	keys := make(map[proto.Message]sortKey, len(out))
	for _, it := range out {
		keys[it] = attribute(it.ProtoReflect(), strings.Split(path, "."))
	}
	slices.SortStableFunc(out, func(a, b T) int {
		c := compareKeys(keys[a], keys[b])
		if desc {
			return -c
		}
		return c
	})
	return out
}

// attribute follows path from an object as Feast's Python object exposes
// it: the first name is looked up in the spec, then the meta, then the
// message itself.
func attribute(m protoreflect.Message, path []string) sortKey {
	if m.Descriptor().FullName() == "feast.registry.AnyFeatureView" {
		// The view inside, as Feast sorts the Python view objects.
		m.Range(func(_ protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			m = v.Message()
			return false
		})
	}
	cur := m
	for i, name := range path {
		var fd protoreflect.FieldDescriptor
		var owner protoreflect.Message
		candidates := []protoreflect.Message{cur}
		if i == 0 {
			candidates = nil
			for _, sub := range []protoreflect.Name{"spec", "meta"} {
				if f := cur.Descriptor().Fields().ByName(sub); f != nil && f.Message() != nil {
					candidates = append(candidates, cur.Get(f).Message())
				}
			}
			candidates = append(candidates, cur)
		}
		for _, c := range candidates {
			if f := c.Descriptor().Fields().ByName(protoreflect.Name(name)); f != nil {
				fd, owner = f, c
				break
			}
		}
		if fd == nil {
			return sortKey{}
		}
		v := owner.Get(fd)
		if i < len(path)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return sortKey{}
			}
			cur = v.Message()
			continue
		}
		if k, ok := relationKey(owner, fd, v); ok {
			return k
		}
		return keyOf(fd, v)
	}
	return sortKey{}
}

// relationKey is the sort key of a lineage relation's attribute as Feast's
// Python objects give it: a type is a FeastObjectType member (str() shows
// its name), a reference or relation is a dataclass (str() is its repr).
func relationKey(owner protoreflect.Message, fd protoreflect.FieldDescriptor, v protoreflect.Value) (sortKey, bool) {
	if owner.Descriptor().FullName() == "feast.registry.EntityReference" && fd.Name() == "type" {
		return sortKey{present: true, text: strings.ToLower(pyEnum(v.String()))}, true
	}
	if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
		return sortKey{}, false
	}
	switch m := v.Message().Interface().(type) {
	case *registrypb.EntityReference:
		return sortKey{present: true, text: strings.ToLower(refRepr(m))}, true
	case *registrypb.EntityRelation:
		return sortKey{present: true, text: strings.ToLower(relRepr(m))}, true
	}
	return sortKey{}, false
}

func pyEnum(t string) string { return "FeastObjectType." + objectTypeNames[t] }

func refRepr(r *registrypb.EntityReference) string {
	return fmt.Sprintf("EntityReference(type=<%s: '%s'>, name='%s')", pyEnum(r.GetType()), r.GetType(), r.GetName())
}

func relRepr(r *registrypb.EntityRelation) string {
	return "EntityRelation(source=" + refRepr(r.GetSource()) + ", target=" + refRepr(r.GetTarget()) + ")"
}

func keyOf(fd protoreflect.FieldDescriptor, v protoreflect.Value) sortKey {
	if fd.IsList() || fd.IsMap() {
		return sortKey{present: true}
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return sortKey{present: true, text: strings.ToLower(v.String())}
	case protoreflect.BoolKind:
		if v.Bool() {
			return sortKey{present: true, num: 1}
		}
		return sortKey{present: true}
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return sortKey{present: true, num: float64(v.Int())}
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return sortKey{present: true, num: float64(v.Uint())}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return sortKey{present: true, num: v.Float()}
	case protoreflect.EnumKind:
		return sortKey{present: true, num: float64(v.Enum())}
	case protoreflect.MessageKind:
		if fd.Message().FullName() == "google.protobuf.Timestamp" {
			m := v.Message()
			sec := m.Get(m.Descriptor().Fields().ByName("seconds")).Int()
			nanos := m.Get(m.Descriptor().Fields().ByName("nanos")).Int()
			return sortKey{present: true, num: float64(sec) + float64(nanos)/1e9}
		}
	}
	return sortKey{present: true}
}
