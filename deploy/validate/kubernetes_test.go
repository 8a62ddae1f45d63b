package validate

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/feastgo/feastgo/config"
)

const manifest = "../kubernetes/feature-server.yaml"

// routes are the server's health paths a probe may ask.
var routes = map[string]bool{"/health": true, "/health/detail": true, "/health/live": true}

type manifestObjects struct {
	configMaps  map[string]*corev1.ConfigMap
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
}

// decodeManifest decodes every document strictly into its Kubernetes API
// type: an unknown or misspelled field, or a value of the wrong type, is an
// error, as `kubectl apply --validate=strict` makes it.
func decodeManifest(t *testing.T, data []byte) (manifestObjects, error) {
	t.Helper()
	objs := manifestObjects{configMaps: map[string]*corev1.ConfigMap{}}
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return objs, err
		}
		var err error
		switch head.APIVersion + " " + head.Kind {
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			err = yaml.UnmarshalStrict(doc, o)
			objs.configMaps[o.Name] = o
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			err = yaml.UnmarshalStrict(doc, o)
			objs.deployments = append(objs.deployments, o)
		case "v1 Service":
			o := &corev1.Service{}
			err = yaml.UnmarshalStrict(doc, o)
			objs.services = append(objs.services, o)
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			err = yaml.UnmarshalStrict(doc, o)
			objs.pdbs = append(objs.pdbs, o)
		default:
			t.Fatalf("document %d: %s %s is not a kind this check knows", i+1, head.APIVersion, head.Kind)
		}
		if err != nil {
			return objs, err
		}
	}
	return objs, nil
}

func TestKubernetesManifest(t *testing.T) {
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeManifest(t, data)
	if err != nil {
		t.Fatalf("%s: %v", manifest, err)
	}
	if len(objs.deployments) != 1 || len(objs.services) != 1 {
		t.Fatalf("%s: %d deployments, %d services; want one each", manifest, len(objs.deployments), len(objs.services))
	}
	d, svc := objs.deployments[0], objs.services[0]
	podLabels := labels.Set(d.Spec.Template.Labels)
	if sel := labels.SelectorFromSet(d.Spec.Selector.MatchLabels); !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not match its pods %v", sel, podLabels)
	}
	if sel := labels.SelectorFromSet(svc.Spec.Selector); len(svc.Spec.Selector) == 0 || !sel.Matches(podLabels) {
		t.Errorf("Service selector %v does not match the Deployment's pods %v", sel, podLabels)
	}
	for _, pdb := range objs.pdbs {
		if sel := labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels); !sel.Matches(podLabels) {
			t.Errorf("PodDisruptionBudget selector %v does not match the pods", sel)
		}
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(d.Spec.Template.Spec.Containers))
	}
	c := d.Spec.Template.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, sp := range svc.Spec.Ports {
		if _, ok := ports[sp.TargetPort.String()]; !ok {
			t.Errorf("Service port %s targets %s, which the container does not expose (%v)", sp.Name, sp.TargetPort.String(), ports)
		}
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet on health, got %+v", name, p)
			continue
		}
		if !routes[p.HTTPGet.Path] {
			t.Errorf("%s probe asks %s, which the server does not serve", name, p.HTTPGet.Path)
		}
		if _, ok := ports[p.HTTPGet.Port.String()]; !ok {
			t.Errorf("%s probe port %s is not a container port", name, p.HTTPGet.Port.String())
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/health/detail" {
		t.Errorf("readiness asks %s; it should ask /health/detail, which fails while reads cannot be answered", c.ReadinessProbe.HTTPGet.Path)
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/health/live" {
		t.Errorf("liveness asks %s; a store outage must not restart the pod", c.LivenessProbe.HTTPGet.Path)
	}
	if !strings.Contains(strings.Join(c.Args, " "), "-p "+strconv.Itoa(int(ports["http"]))) {
		t.Errorf("args %v do not serve HTTP on the container port %d", c.Args, ports["http"])
	}

	// The ConfigMap mounted as the repo's feature_store.yaml parses with our
	// config, with the variables the Secret provides set.
	volumes := map[string]corev1.Volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	var mounted bool
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Errorf("volumeMount %s names no volume", m.Name)
			continue
		}
		if m.MountPath != "/repo/feature_store.yaml" || v.ConfigMap == nil {
			continue
		}
		mounted = true
		cm, ok := objs.configMaps[v.ConfigMap.Name]
		if !ok {
			t.Fatalf("volume %s: ConfigMap %s is not in the manifest", v.Name, v.ConfigMap.Name)
		}
		text, ok := cm.Data[m.SubPath]
		if !ok {
			t.Fatalf("ConfigMap %s has no key %s", cm.Name, m.SubPath)
		}
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = "secret-" + e.Name
		}
		getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		cfg, err := config.Parse([]byte(text), t.TempDir(), getenv)
		if err != nil {
			t.Fatalf("ConfigMap %s feature_store.yaml: %v", cm.Name, err)
		}
		expanded := cfg.Registry.Path
		if cfg.OnlineStore.Redis != nil {
			expanded += cfg.OnlineStore.Redis.ConnectionString
		}
		if strings.Contains(text, "${") && !strings.Contains(expanded, "secret-") {
			t.Errorf("the Secret's variables were not expanded into the config: %+v", cfg)
		}
	}
	if !mounted {
		t.Error("no ConfigMap is mounted at /repo/feature_store.yaml (serve runs with -c /repo)")
	}
}

// The strict decode is a real check: a misspelled field fails it.
func TestKubernetesDecodeRejectsUnknownFields(t *testing.T) {
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(data, []byte("readinessProbe:"), []byte("readynessProbe:"), 1)
	if _, err := decodeManifest(t, bad); err == nil || !strings.Contains(err.Error(), "readynessProbe") {
		t.Errorf("a misspelled field decoded: %v", err)
	}
	bad = bytes.Replace(data, []byte("replicas: 2"), []byte("replicas: two"), 1)
	if _, err := decodeManifest(t, bad); err == nil {
		t.Error("replicas: two decoded")
	}
}
