package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Source fetches the serialized registry.
type Source interface {
	// Fetch returns the whole registry blob. A missing registry is an error.
	Fetch(ctx context.Context) ([]byte, error)
	// Location names the source in logs and errors.
	Location() string
}

// NewSource picks the source for a registry path as Feast does: a plain or
// file:// path (relative to repoDir), a Windows drive path, s3:// or gs://.
func NewSource(ctx context.Context, path, repoDir string) (Source, error) {
	if isWindowsDrive(path) || !strings.Contains(path, "://") {
		if !filepath.IsAbs(path) {
			path = filepath.Join(repoDir, path)
		}
		return &FileSource{Path: path}, nil
	}
	u, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("registry.path %q: %w", path, err)
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" {
			p = filepath.Join(u.Host, p)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(repoDir, p)
		}
		return &FileSource{Path: p}, nil
	case "s3":
		return NewS3Source(ctx, u.Host, strings.TrimPrefix(u.Path, "/"))
	case "gs":
		return NewGCSSource(ctx, u.Host, strings.TrimPrefix(u.Path, "/"))
	default:
		return nil, fmt.Errorf("registry.path %q: scheme %q is not supported (use a local path, s3:// or gs://)", path, u.Scheme)
	}
}

func isWindowsDrive(p string) bool {
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z'))
}

// FileSource reads a registry file from the local disk.
type FileSource struct{ Path string }

// Fetch reads the file.
func (f *FileSource) Fetch(context.Context) ([]byte, error) { return os.ReadFile(f.Path) }

// Location is the file path.
func (f *FileSource) Location() string { return f.Path }

// S3Source reads a registry object from S3 or an S3-compatible server. The
// endpoint comes from FEAST_S3_ENDPOINT_URL (Feast's variable) or
// AWS_ENDPOINT_URL; credentials and region from the usual AWS chain.
type S3Source struct {
	Bucket, Key string
	client      *s3.Client
}

// NewS3Source builds an S3 source.
func NewS3Source(ctx context.Context, bucket, key string) (*S3Source, error) {
	if bucket == "" || key == "" {
		return nil, fmt.Errorf("registry.path: s3://%s/%s needs a bucket and a key", bucket, key)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("registry: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	endpoint := os.Getenv("FEAST_S3_ENDPOINT_URL")
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	return &S3Source{Bucket: bucket, Key: key, client: client}, nil
}

// Fetch downloads the object.
func (s *S3Source) Fetch(ctx context.Context) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &s.Key})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, out.Body); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Put uploads a new registry blob (used by materialization to record
// intervals).
func (s *S3Source) Put(ctx context.Context, b []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.Bucket, Key: &s.Key, Body: bytes.NewReader(b)})
	return err
}

// Location is the s3:// URI.
func (s *S3Source) Location() string { return "s3://" + s.Bucket + "/" + s.Key }
