"""The registry over gRPC (`registry_type: remote`, `serve_registry`), against real Feast 0.67.0.

One repo, applied and materialized by real Feast, served by `feast serve_registry` and by our
`serve_registry` side by side:

(a) every read RPC of feast.registry.RegistryServer (Get and List of every kind, ListAllFeatureViews
    with its filters, paging and sorting, ListProjectMetadata, missing objects) answers the same on
    both servers; and Feast's own SDK with `registry_type: remote` lists and gets every object the
    same way from either server;
(b) our feature server with `registry_type: remote` pointed at `feast serve_registry` answers every
    conformance case exactly as our server on the registry file does.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

import harness
from conftest import copy_repo, rewrite_store_yaml
from harness import Proc


def feast_bin() -> str:
    return str(Path(sys.executable).parent / "feast")


def wait_grpc(proc: Proc, port: int, timeout: float = 60) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.time() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.time() < deadline:
            if not proc.alive():
                raise harness.HarnessError(f"{proc.describe()}")
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.3)
    raise harness.HarnessError(f"no gRPC health on port {port}\n{proc.describe()}")


@pytest.fixture(scope="module")
def remote_repo(tmp_root: Path, base_env: Dict[str, str]):
    root = tmp_root / "remote_registry"
    repo = root / "repo"
    copy_repo(repo)
    rewrite_store_yaml(repo, {"type": "sqlite", "path": "data/online.db"}, 3)
    (repo / "permissions.py").write_text(PERMISSIONS_PY)
    logs = root / "logs"
    harness.run_checked([feast_bin(), "-c", str(repo), "apply"], repo, base_env, logs / "feast-apply.log")
    harness.run_checked([feast_bin(), "-c", str(repo), "materialize", harness.MATERIALIZE_START, harness.MATERIALIZE_END],
                        repo, base_env, logs / "feast-materialize.log")
    harness.run_checked([sys.executable, "-c", SAVED_DATASET_PY, str(repo)], repo, base_env, logs / "saved-dataset.log")
    project = yaml.safe_load((repo / "feature_store.yaml").read_text())["project"]
    return root, repo, logs, project


# Objects the demo repo does not have, so that their RPCs compare something: two permissions
# (applied by feast apply; the repo is no_auth, so nothing enforces them) ...
PERMISSIONS_PY = """
from feast.feature_view import FeatureView
from feast.feature_service import FeatureService
from feast.permissions.action import READ, AuthzedAction
from feast.permissions.permission import Permission
from feast.permissions.policy import GroupBasedPolicy, RoleBasedPolicy

readers = Permission(name="readers", types=[FeatureView, FeatureService], name_patterns=["pipeline_.*"],
                     policy=RoleBasedPolicy(roles=["reader"]), actions=READ, tags={"team": "ml"})
writers = Permission(name="writers", types=[FeatureView], required_tags={"owner": "ml"},
                     policy=GroupBasedPolicy(groups=["ml"]), actions=[AuthzedAction.WRITE_ONLINE])
"""

# ... and a saved dataset, made as Feast's docs make one: a historical retrieval persisted to
# parquet through the SDK, which records it in the registry.
SAVED_DATASET_PY = """
import sys
from datetime import datetime, timezone

import pandas as pd
from feast import FeatureStore
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage

store = FeatureStore(repo_path=sys.argv[1])
entities = pd.DataFrame({"pipeline_id": [1, 2, 3],
                         "event_timestamp": [datetime(2025, 1, 2, tzinfo=timezone.utc)] * 3})
job = store.get_historical_features(entity_df=entities, features=["pipeline_stats:success_rate", "pipeline_stats:error_count"])
store.create_saved_dataset(from_=job, name="pipeline_training", tags={"team": "ml"},
                           storage=SavedDatasetFileStorage(path=sys.argv[1] + "/data/pipeline_training.parquet"))
"""


@pytest.fixture(scope="module")
def registry_servers(request, remote_repo, base_env, ours_mode, our_binary):
    """(feast port, our port) of serve_registry on the same repo."""
    if ours_mode != "binary":
        pytest.skip("compares our binary with feast serve_registry")
    _, repo, logs, _ = remote_repo
    ports = []
    for name, argv0 in (("feast-registry", [feast_bin()]), ("ours-registry", [our_binary])):
        port = harness.free_port()
        proc = Proc.start(name, argv0 + ["-c", str(repo), "serve_registry", "-p", str(port)], logs / f"{name}.log", repo, base_env)
        request.addfinalizer(proc.stop)
        wait_grpc(proc, port)
        ports.append(port)
    return tuple(ports)


def read_calls(project: str):
    """(rpc name, request) for every read RPC, each kind listed, got, missed, filtered and paged."""
    from feast.protos.feast.registry import RegistryServer_pb2 as pb

    pg = pb.PaginationParams
    so = pb.SortingParams
    calls = [
        ("ListProjects", pb.ListProjectsRequest()),
        ("GetProject", pb.GetProjectRequest(name=project)),
        ("GetProject", pb.GetProjectRequest(name="no_such_project")),
        ("ListProjectMetadata", pb.ListProjectMetadataRequest(project=project)),
        ("ListAllFeatureViews", pb.ListAllFeatureViewsRequest(project=project)),
        ("ListAllFeatureViews", pb.ListAllFeatureViewsRequest(project=project, entity="driver")),
        ("ListAllFeatureViews", pb.ListAllFeatureViewsRequest(project=project, feature="conv_rate")),
        ("ListAllFeatureViews", pb.ListAllFeatureViewsRequest(project=project, sorting=so(sort_by="name", sort_order="desc"))),
        ("ListAllFeatureViews", pb.ListAllFeatureViewsRequest(project=project, pagination=pg(page=2, limit=2))),
        ("ListAllFeatureViews", pb.ListAllFeatureViewsRequest(project="other_project")),
        ("GetAnyFeatureView", pb.GetAnyFeatureViewRequest(name="no_such_view", project=project)),
        # Features across views (the feature browser's RPCs).
        ("ListFeatures", pb.ListFeaturesRequest(project=project)),
        ("ListFeatures", pb.ListFeaturesRequest(project=project, feature_view="pipeline_stats")),
        ("ListFeatures", pb.ListFeaturesRequest(project=project, name="success_rate")),
        ("ListFeatures", pb.ListFeaturesRequest(project=project, kind="feature", sorting=so(sort_by="name", sort_order="desc"),
                                                pagination=pg(page=2, limit=3))),
        ("ListFeatures", pb.ListFeaturesRequest(project=project, kind="label")),
        ("ListFeatures", pb.ListFeaturesRequest(project="other_project")),
        ("GetFeature", pb.GetFeatureRequest(project=project, feature_view="pipeline_stats", name="no_such_feature")),
        ("GetFeature", pb.GetFeatureRequest(project=project, feature_view="no_such_view", name="success_rate")),
        # Lineage: the whole graph, filtered, and per object.
        ("GetRegistryLineage", pb.GetRegistryLineageRequest(project=project)),
        ("GetRegistryLineage", pb.GetRegistryLineageRequest(project=project, filter_object_type="featureView",
                                                            filter_object_name="pipeline_stats")),
        ("GetRegistryLineage", pb.GetRegistryLineageRequest(project=project, filter_object_type="entity")),
        ("GetRegistryLineage", pb.GetRegistryLineageRequest(project="other_project")),
    ]
    for otype, oname in (("featureView", "pipeline_stats"), ("entity", "pipeline"), ("dataSource", "pipeline_stats_source"),
                         ("featureView", "no_such_view")):
        for indirect in (False, True):
            calls.append(("GetObjectRelationships", pb.GetObjectRelationshipsRequest(
                project=project, object_type=otype, object_name=oname, include_indirect=indirect)))
    kinds = [
        ("Entities", "Entity", "entities"),
        ("DataSources", "DataSource", "data_sources"),
        ("FeatureViews", "FeatureView", "feature_views"),
        ("StreamFeatureViews", "StreamFeatureView", "stream_feature_views"),
        ("OnDemandFeatureViews", "OnDemandFeatureView", "on_demand_feature_views"),
        ("LabelViews", "LabelView", "label_views"),
        ("FeatureServices", "FeatureService", "feature_services"),
        ("SavedDatasets", "SavedDataset", "saved_datasets"),
        ("ValidationReferences", "ValidationReference", "validation_references"),
        ("Permissions", "Permission", "permissions"),
    ]
    for plural, single, _ in kinds:
        req = getattr(pb, f"List{plural}Request")
        calls.append((f"List{plural}", req(project=project)))
        calls.append((f"List{plural}", req(project=project, sorting=so(sort_by="name"), pagination=pg(page=1, limit=1))))
        calls.append((f"Get{single}", getattr(pb, f"Get{single}Request")(name="no_such_object", project=project)))
    return calls, kinds


def normalise(m):
    """Clear what Feast's server does not keep from the stored object, and we do (see
    docs/compatibility.md): Feast answers each object's Python to_proto(), which leaves the
    project fields empty, drops some data_source_class_type, re-pickles UDF bodies and stamps
    an on-demand view's request sources with the time of the call."""
    def walk(msg, parent=None):
        for fd, v in list(msg.ListFields()):
            if fd.name in ("project", "data_source_class_type") and fd.type == fd.TYPE_STRING:
                msg.ClearField(fd.name)
            elif fd.name == "body" and msg.DESCRIPTOR.name == "UserDefinedFunctionV2":
                msg.ClearField(fd.name)
            elif fd.name == "meta" and msg.DESCRIPTOR.name == "DataSource" and parent == "OnDemandSource":
                msg.ClearField(fd.name)
            elif fd.type == fd.TYPE_MESSAGE:
                if fd.message_type.GetOptions().map_entry:
                    for item in v.values():
                        if hasattr(item, "ListFields"):
                            walk(item, msg.DESCRIPTOR.name)
                elif fd.is_repeated if hasattr(fd, "is_repeated") else fd.label == 3:
                    for item in v:
                        walk(item, msg.DESCRIPTOR.name)
                else:
                    walk(v, msg.DESCRIPTOR.name)
    m = type(m).FromString(m.SerializeToString())
    walk(m)
    # Feast walks an on-demand view's sources out of a protobuf map, whose order is not stable
    # from one run to the next: compare a lineage answer's edges as a set (the calls above page
    # lineage only where the order is defined).
    for field in ("relationships", "indirect_relationships"):
        if field in m.DESCRIPTOR.fields_by_name:
            edges = sorted(getattr(m, field), key=lambda e: e.SerializeToString(deterministic=True))
            copies = [type(e).FromString(e.SerializeToString()) for e in edges]
            del getattr(m, field)[:]
            getattr(m, field).extend(copies)
    return m


def call(stub, rpc: str, req):
    import grpc

    try:
        return ("ok", normalise(getattr(stub, rpc)(req, timeout=30)))
    except grpc.RpcError as e:
        return (e.code().name, e.details())


def test_serve_registry_answers_as_feast(remote_repo, registry_servers):
    import grpc
    from feast.protos.feast.registry import RegistryServer_pb2 as pb
    from feast.protos.feast.registry import RegistryServer_pb2_grpc as pbg

    _, _, _, project = remote_repo
    feast_port, our_port = registry_servers
    with grpc.insecure_channel(f"127.0.0.1:{feast_port}") as fch, grpc.insecure_channel(f"127.0.0.1:{our_port}") as och:
        feast, ours = pbg.RegistryServerStub(fch), pbg.RegistryServerStub(och)
        calls, kinds = read_calls(project)
        # Get every listed object by name, from both.
        for plural, single, field in kinds:
            listed = call(feast, f"List{plural}", getattr(pb, f"List{plural}Request")(project=project))
            assert listed[0] == "ok", listed
            for obj in getattr(listed[1], field):
                name = obj.spec.name if "spec" in obj.DESCRIPTOR.fields_by_name else obj.name
                calls.append((f"Get{single}", getattr(pb, f"Get{single}Request")(name=name, project=project)))
                if "View" in single:
                    calls.append(("GetAnyFeatureView", pb.GetAnyFeatureViewRequest(name=name, project=project)))
        listed = call(feast, "ListFeatures", pb.ListFeaturesRequest(project=project))
        assert listed[0] == "ok" and len(listed[1].features) > 10, listed
        for f in listed[1].features:
            calls.append(("GetFeature", pb.GetFeatureRequest(project=project, feature_view=f.feature_view, name=f.name)))
        served = 0
        diffs: List[str] = []
        for rpc, req in calls:
            want, got = call(feast, rpc, req), call(ours, rpc, req)
            if want[0] == "ok":
                served += 1
            if want != got:
                diffs.append(f"{rpc}({req}):\n  feast {str(want)[:1500]}\n  ours  {str(got)[:1500]}")
        assert served > 20, "feast serve_registry answered too few calls for the comparison to mean much"
        assert not diffs, f"{len(diffs)} of {len(calls)} calls differ:\n" + "\n".join(diffs)

        # Proto: the same objects (Feast regroups them by project, as we do).
        empty = pb.google_dot_protobuf_dot_empty__pb2.Empty()
        assert normalise(feast.Proto(empty)) == normalise(ours.Proto(empty)), "Proto differs"


def sdk_objects(port: int, project: str, repo: Path):
    """What Feast's SDK (RemoteRegistry) lists and gets through a registry server."""
    from feast.infra.registry.remote import RemoteRegistry, RemoteRegistryConfig

    reg = RemoteRegistry(RemoteRegistryConfig(registry_type="remote", path=f"127.0.0.1:{port}"), project, repo)
    out = {}
    for kind in ("entities", "data_sources", "feature_views", "stream_feature_views", "on_demand_feature_views",
                 "feature_services", "saved_datasets", "validation_references", "permissions"):
        objs = getattr(reg, f"list_{kind}")(project=project)
        out[kind] = [normalise(o.to_proto()) for o in objs]
    out["all_feature_views"] = [normalise(o.to_proto()) for o in reg.list_all_feature_views(project=project)]
    out["projects"] = [normalise(p.to_proto()) for p in reg.list_projects()]
    for fv in reg.list_feature_views(project=project):
        out[f"get_feature_view {fv.name}"] = normalise(reg.get_feature_view(fv.name, project).to_proto())
        out[f"get_any_feature_view {fv.name}"] = normalise(reg.get_any_feature_view(fv.name, project).to_proto())
    for e in reg.list_entities(project=project):
        out[f"get_entity {e.name}"] = normalise(reg.get_entity(e.name, project).to_proto())
    for s in reg.list_feature_services(project=project):
        out[f"get_feature_service {s.name}"] = normalise(reg.get_feature_service(s.name, project).to_proto())
    for o in reg.list_on_demand_feature_views(project=project):
        out[f"get_on_demand_feature_view {o.name}"] = normalise(reg.get_on_demand_feature_view(o.name, project).to_proto())
    for d in reg.list_data_sources(project=project):
        out[f"get_data_source {d.name}"] = normalise(reg.get_data_source(d.name, project).to_proto())
    try:
        reg.get_entity("no_such_entity", project)
        out["missing entity"] = "found"
    except Exception as e:  # the exception Feast's client rebuilds from the error details
        out["missing entity"] = f"{type(e).__module__}.{type(e).__name__}: {e}"
    return out


def test_feast_sdk_remote_registry_on_ours(remote_repo, registry_servers):
    _, repo, _, project = remote_repo
    feast_port, our_port = registry_servers
    want, got = sdk_objects(feast_port, project, repo), sdk_objects(our_port, project, repo)
    assert sum(len(v) for v in want.values() if isinstance(v, list)) > 10, want.keys()
    assert len(want["permissions"]) == 2 and len(want["saved_datasets"]) == 1, (want["permissions"], want["saved_datasets"])
    assert want.keys() == got.keys()
    diffs = [k for k in want if want[k] != got[k]]
    assert not diffs, f"Feast's SDK sees different objects through our serve_registry: {diffs}"


def test_our_server_on_feast_remote_registry(request, remote_repo, registry_servers, base_env, our_binary):
    root, repo, logs, _ = remote_repo
    feast_port, _ = registry_servers
    remote = root / "remote"
    if not remote.exists():
        import shutil

        shutil.copytree(repo, remote)
    cfg = yaml.safe_load((remote / "feature_store.yaml").read_text())
    cfg["registry"] = {"registry_type": "remote", "path": f"127.0.0.1:{feast_port}"}
    cfg["online_store"] = {"type": "sqlite", "path": str(repo / "data" / "online.db")}
    (remote / "feature_store.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (remote / "data" / "registry.db").unlink()

    urls = []
    for name, d in (("ours-remote", remote), ("ours-file", repo)):
        port = harness.free_port()
        proc = Proc.start(name, [our_binary, "-c", str(d), "serve", "-h", "127.0.0.1", "-p", str(port)], logs / f"{name}.log", d, base_env)
        request.addfinalizer(proc.stop)
        harness.wait_healthy(proc, f"http://127.0.0.1:{port}", timeout=60)
        urls.append(f"http://127.0.0.1:{port}")
    cases = harness.load_cases()
    assert len(cases) > 50
    diffs = []
    for case in cases:
        ra, rb = case.send(urls[0]), case.send(urls[1])
        if (ra.status, ra.parsed()[1]) != (rb.status, rb.parsed()[1]):
            diffs.append(f"{case.name}: remote registry {ra.status} {ra.text[:300]!r}\n  file registry {rb.status} {rb.text[:300]!r}")
    assert not diffs, "\n".join(diffs)


def test_our_server_fails_clearly_when_registry_server_is_down(remote_repo, base_env, our_binary, ours_mode):
    if ours_mode != "binary":
        pytest.skip("our binary only")
    import subprocess

    root, repo, _, _ = remote_repo
    down = root / "down"
    if not down.exists():
        import shutil

        shutil.copytree(repo, down)
    cfg = yaml.safe_load((down / "feature_store.yaml").read_text())
    cfg["registry"] = {"registry_type": "remote", "path": f"127.0.0.1:{harness.free_port()}"}
    (down / "feature_store.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    p = subprocess.run([our_binary, "-c", str(down), "serve", "-h", "127.0.0.1", "-p", str(harness.free_port())],
                       cwd=down, env=base_env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "registry server unreachable" in p.stderr, p.stderr


def test_feast_apply_through_our_serve_registry(request, remote_repo, base_env, our_binary, ours_mode):
    """`feast apply` of a changed repo through our serve_registry stores what a plain `feast apply`
    of the same change stores in a registry file (specs compared without timestamps)."""
    if ours_mode != "binary":
        pytest.skip("our binary only")
    import shutil

    root, repo, logs, _ = remote_repo
    served, client, plain = root / "apply-served", root / "apply-client", root / "apply-plain"
    for d in (served, client, plain):
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(repo, d)
    for d in (client, plain):
        text = (d / "features.py").read_text()
        assert "ttl=timedelta(days=2)" in text
        (d / "features.py").write_text(text.replace("ttl=timedelta(days=2)", "ttl=timedelta(days=3)"))
    port = harness.free_port()
    proc = Proc.start("ours-registry-apply", [our_binary, "-c", str(served), "serve_registry", "-p", str(port)],
                      logs / "ours-registry-apply.log", served, base_env)
    request.addfinalizer(proc.stop)
    wait_grpc(proc, port)
    cfg = yaml.safe_load((client / "feature_store.yaml").read_text())
    cfg["registry"] = {"registry_type": "remote", "path": f"127.0.0.1:{port}"}
    (client / "feature_store.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (client / "data" / "registry.db").unlink()
    harness.run_checked([feast_bin(), "-c", str(client), "apply"], client, base_env, logs / "feast-apply-remote.log")
    harness.run_checked([feast_bin(), "-c", str(plain), "apply"], plain, base_env, logs / "feast-apply-plain.log")
    dirs = [str(served), str(client), str(plain)]

    def objects(path):
        # Feast's remote client sends only the objects its plan changes, a plain apply rewrites
        # every view from to_proto(), which drops the nested sources' data_source_class_type.
        def drop(v):
            if isinstance(v, dict):
                return {k: drop(x) for k, x in v.items() if k != "data_source_class_type"}
            if isinstance(v, list):
                return [drop(x) for x in v]
            return v
        return drop(harness.registry_objects(path, dirs))

    want = objects(plain / "data" / "registry.db")
    got = objects(served / "data" / "registry.db")
    assert any("259200s" in str(v) for v in got["feature_views"].values()), "the changed ttl did not reach our registry"
    diffs = harness.diff_registry_objects(want, got)
    assert not diffs, "\n".join(diffs)
