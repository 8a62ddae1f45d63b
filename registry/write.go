package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Writer is implemented by sources that can store a new registry blob
// (FileSource, S3Source, GCSSource); materialization records its intervals through it.
type Writer interface {
	// Put replaces the whole registry. A reader sees either the old or the
	// new blob, never a mix.
	Put(ctx context.Context, b []byte) error
}

var (
	_ Writer = (*FileSource)(nil)
	_ Writer = (*S3Source)(nil)
	_ Writer = (*GCSSource)(nil)
)

// Put writes the registry to a temporary file next to it, syncs it and
// renames it over the old one, so a crash leaves the old or the new file.
func (f *FileSource) Put(_ context.Context, b []byte) error {
	dir := filepath.Dir(f.Path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.Path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("registry %s: %w", f.Path, err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	mode := os.FileMode(0o644)
	if st, err := os.Stat(f.Path); err == nil {
		mode = st.Mode().Perm()
	}
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("registry %s: %w", f.Path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("registry %s: %w", f.Path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("registry %s: %w", f.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("registry %s: %w", f.Path, err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("registry %s: %w", f.Path, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable; not all file systems support it
		_ = d.Close()
	}
	return nil
}

// Transactor is implemented by registries that store each object on its
// own (the SQL registry): Update hands them the change, which they apply
// to the objects it can touch (feature views) and store in one
// transaction, instead of a whole blob being rewritten.
type Transactor interface {
	Update(ctx context.Context, now time.Time, change func(*corepb.Registry) error) error
}

// Update reads the registry from src, lets change edit it, and writes it
// back stamped as Feast's commit() does: a fresh version_id (UUID4) and
// last_updated = now. src must also be a Writer, or a Transactor.
func Update(ctx context.Context, src Source, now time.Time, change func(*corepb.Registry) error) error {
	if t, ok := src.(Transactor); ok {
		return t.Update(ctx, now, change)
	}
	w, ok := src.(Writer)
	if !ok {
		return fmt.Errorf("registry %s: this registry store cannot be written", src.Location())
	}
	b, err := src.Fetch(ctx)
	if err != nil {
		return fmt.Errorf("registry %s: %w", src.Location(), err)
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(b, reg); err != nil {
		return fmt.Errorf("registry %s: not a feast.core.Registry: %w", src.Location(), err)
	}
	if err := change(reg); err != nil {
		return err
	}
	reg.VersionId = uuid.NewString()
	reg.LastUpdated = timestamppb.New(now.Truncate(time.Microsecond))
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(reg)
	if err != nil {
		return fmt.Errorf("registry %s: %w", src.Location(), err)
	}
	return w.Put(ctx, out)
}

// viewMeta finds a feature view or stream feature view of project by name
// and returns its meta (created if absent) and a function that moves the
// view to the end of its list, as Feast's delete-and-append does.
func viewMeta(reg *corepb.Registry, project, view string) (*corepb.FeatureViewMeta, func(), error) {
	for i, fv := range reg.FeatureViews {
		if fv.GetSpec().GetName() == view && fv.GetSpec().GetProject() == project {
			if fv.Meta == nil {
				fv.Meta = &corepb.FeatureViewMeta{}
			}
			return fv.Meta, func() {
				reg.FeatureViews = append(append(reg.FeatureViews[:i:i], reg.FeatureViews[i+1:]...), fv)
			}, nil
		}
	}
	for i, sfv := range reg.StreamFeatureViews {
		if sfv.GetSpec().GetName() == view && sfv.GetSpec().GetProject() == project {
			if sfv.Meta == nil {
				sfv.Meta = &corepb.FeatureViewMeta{}
			}
			return sfv.Meta, func() {
				reg.StreamFeatureViews = append(append(reg.StreamFeatureViews[:i:i], reg.StreamFeatureViews[i+1:]...), sfv)
			}, nil
		}
	}
	return nil, nil, fmt.Errorf("feature view %s does not exist in project %s", view, project)
}

// RecordMaterialization is Feast's apply_materialization: it appends the
// interval [start, end] to the view's materialization_intervals, sets
// last_updated_timestamp to now and the state to AVAILABLE_ONLINE, and
// moves the view to the end of its list. Times keep microsecond precision,
// as Python datetimes do.
func RecordMaterialization(reg *corepb.Registry, project, view string, start, end, now time.Time) error {
	meta, moveToEnd, err := viewMeta(reg, project, view)
	if err != nil {
		return err
	}
	meta.MaterializationIntervals = append(meta.MaterializationIntervals, &corepb.MaterializationInterval{
		StartTime: timestamppb.New(start.Truncate(time.Microsecond)),
		EndTime:   timestamppb.New(end.Truncate(time.Microsecond)),
	})
	meta.LastUpdatedTimestamp = timestamppb.New(now.Truncate(time.Microsecond))
	meta.State = corepb.FeatureViewState_AVAILABLE_ONLINE
	moveToEnd()
	return nil
}

// ViewState returns a view's lifecycle state as stored in reg.
func ViewState(reg *corepb.Registry, project, view string) (corepb.FeatureViewState, error) {
	meta, _, err := viewMeta(reg, project, view)
	if err != nil {
		return 0, err
	}
	return meta.GetState(), nil
}

// SetViewState changes a view's lifecycle state in place, as Feast's
// apply_feature_view does for a view whose schema did not change.
func SetViewState(reg *corepb.Registry, project, view string, state corepb.FeatureViewState) error {
	meta, _, err := viewMeta(reg, project, view)
	if err != nil {
		return err
	}
	meta.State = state
	return nil
}

// CreateIfMissing writes an empty registry (schema version 1, a fresh
// version_id and last_updated) to a registry file that does not exist,
// creating its directory, as Feast's Registry does when it first opens a
// file that is not there. It reports whether it created one; a registry in
// an object store, SQL or on a server is left alone.
func CreateIfMissing(ctx context.Context, src Source, now time.Time) (bool, error) {
	f, ok := src.(*FileSource)
	if !ok {
		return false, nil
	}
	if _, err := os.Stat(f.Path); !errors.Is(err, os.ErrNotExist) {
		return false, nil // there, or an error Fetch reports
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return false, fmt.Errorf("registry %s: %w", f.Path, err)
	}
	reg := &corepb.Registry{RegistrySchemaVersion: "1", VersionId: uuid.NewString(),
		LastUpdated: timestamppb.New(now.Truncate(time.Microsecond))}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(reg)
	if err != nil {
		return false, err
	}
	if err := f.Put(ctx, b); err != nil {
		return false, err
	}
	return true, nil
}
