"""A feast.serving.TransformationService that runs any on-demand feature view with Feast's own code.

Feast's `feast serve_transformations` only runs pandas-mode ODFVs. This worker runs both modes
and reproduces `feast serve` exactly: it rebuilds the partial GetOnlineFeaturesResponse the Go
server assembled (join keys, request data, source features, as serialized feast Values), calls
Feast's own `_augment_response_with_on_demand_transforms` on it, and returns the columns Feast
appended, again as serialized feast Values. Type conversion, output naming and selection are
therefore Feast's, byte for byte.

Protocol (see transformations/delegate.go): the Arrow IPC file in `transformation_input`
carries schema metadata `feastgo.protocol=1`, `feastgo.full_feature_names` ("true"/"false")
and `feastgo.requested` (JSON list of the ODFV's requested feature names); every column is
binary, one serialized feast.types.Value per row (empty = null), optionally with field metadata
`feastgo.value_type` (the declared ValueType number of a source feature). The answer is an
Arrow IPC file with one binary column per computed output. A request without that metadata is
served like Feast's own transformation server (pandas mode, `transform_arrow(table, True)`).
GetTransformationServiceInfo answers type CUSTOM with details starting "feastgo-worker".

Run it with the Python that has the repo's Feast version installed, with its gRPC extra
(`pip install 'feast[grpcio]==<version>'`):

    python transformations/worker/feastgo_worker.py --repo feature_repo --port 6569

It prints "feastgo-worker listening on HOST:PORT" on stdout once serving (with --port 0 the
port is chosen by the OS), and stops on SIGTERM or SIGINT.

The Go server also runs this file itself, as a child process, when a request needs Python and
no transformation service answers (transformations/worker/worker.go): it is embedded in the
binary, written to a private temp dir and started with `--socket PATH` (a Unix socket instead
of TCP, reachable only through that dir) and `--exit-on-stdin-eof` (the server holds the other
end of stdin, so the worker exits when the server does, however it ends).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import pathlib
import signal
import sys
import threading
from concurrent import futures

import grpc
import pyarrow as pa

from feast import FeatureStore, utils
from feast.errors import OnDemandFeatureViewNotFoundException
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus, GetOnlineFeaturesResponse
from feast.protos.feast.serving.TransformationService_pb2 import (
    TRANSFORMATION_SERVICE_TYPE_CUSTOM,
    GetTransformationServiceInfoResponse,
    TransformFeaturesResponse,
    ValueType,
)
from feast.protos.feast.serving.TransformationService_pb2_grpc import (
    TransformationServiceServicer,
    add_TransformationServiceServicer_to_server,
)
from feast.protos.feast.types.Value_pb2 import Value
from feast.value_type import ValueType as FeastValueType
from feast.version import get_version

log = logging.getLogger("feastgo-worker")

DETAILS_PREFIX = "feastgo-worker"


def _arrow_file(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


class Worker(TransformationServiceServicer):
    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self._lock = threading.Lock()

    def _odfv(self, name: str, context):
        try:
            return self.store.get_on_demand_feature_view(name, allow_registry_cache=True)
        except OnDemandFeatureViewNotFoundException:
            pass
        try:
            with self._lock:  # a new ODFV: refresh the registry once
                self.store.refresh_registry()
            return self.store.get_on_demand_feature_view(name, allow_registry_cache=True)
        except OnDemandFeatureViewNotFoundException as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))

    def GetTransformationServiceInfo(self, request, context):
        return GetTransformationServiceInfoResponse(
            type=TRANSFORMATION_SERVICE_TYPE_CUSTOM,
            transformation_service_type_details=(
                f"{DETAILS_PREFIX}/1 Python: {sys.version.split()[0]}, Feast: {get_version()}"
            ),
        )

    def TransformFeatures(self, request, context):
        name = request.on_demand_feature_view_name
        odfv = self._odfv(name, context)
        table = pa.ipc.open_file(request.transformation_input.arrow_value).read_all()
        meta = table.schema.metadata or {}
        try:
            if meta.get(b"feastgo.protocol") != b"1":
                if odfv.mode != "pandas":
                    raise Exception(
                        f'OnDemandFeatureView mode "{odfv.mode}" not supported by TransformationServer.'
                    )
                out = odfv.transform_arrow(table, True)
            else:
                out = self._augment(odfv, table, meta)
        except Exception as e:  # the UDF's own error, reported to the caller
            log.info("on-demand feature view %s failed: %s: %s", name, type(e).__name__, e)
            context.abort(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")
        return TransformFeaturesResponse(transformation_output=ValueType(arrow_value=_arrow_file(out)))

    def _augment(self, odfv, table: pa.Table, meta) -> pa.Table:
        full_names = meta.get(b"feastgo.full_feature_names") == b"true"
        requested = json.loads(meta.get(b"feastgo.requested", b"[]"))
        response = GetOnlineFeaturesResponse()
        feature_types = {}
        for field in table.schema:
            response.metadata.feature_names.val.append(field.name)
            vector = response.results.add()
            for raw in table.column(field.name).to_pylist():
                value = Value()
                if raw:
                    value.ParseFromString(raw)
                vector.values.append(value)
                vector.statuses.append(FieldStatus.PRESENT)
                vector.event_timestamps.add()
            fmeta = field.metadata or {}
            if b"feastgo.value_type" in fmeta:
                feature_types[field.name] = FeastValueType(int(fmeta[b"feastgo.value_type"]))
        if odfv.write_to_online_store:
            # Feast computes these views when they are written, and its read path skips them;
            # the server asks for that write-time computation (a write with transform_on_write,
            # a materialization), which is the same UDF run the read path does for other views.
            odfv = copy.copy(odfv)
            odfv.write_to_online_store = False
        n_in = len(response.results)
        refs = [f"{odfv.name}:{f}" for f in requested]
        utils._augment_response_with_on_demand_transforms(
            response, refs, [odfv], full_names, feature_types=feature_types or None
        )
        names = list(response.metadata.feature_names.val)[n_in:]
        arrays = [
            pa.array([v.SerializeToString() for v in response.results[n_in + i].values], type=pa.binary())
            for i in range(len(names))
        ]
        return pa.Table.from_arrays(arrays, names=names)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", "-c", default=".", help="Feast repo directory (with feature_store.yaml)")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ap.add_argument("--port", "-p", type=int, default=6569, help="port (0: any free port)")
    ap.add_argument("--workers", type=int, default=8, help="gRPC worker threads")
    ap.add_argument("--feature-store-yaml", "-f", default=None, help="feature_store.yaml (default: REPO's)")
    ap.add_argument("--socket", default=None, help="listen on this Unix socket instead of HOST:PORT")
    ap.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin is closed")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")

    yaml_file = pathlib.Path(args.feature_store_yaml) if args.feature_store_yaml else None
    store = FeatureStore(repo_path=args.repo, fs_yaml_file=yaml_file)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers))
    add_TransformationServiceServicer_to_server(Worker(store), server)
    address = f"unix:{args.socket}" if args.socket else f"{args.host}:{args.port}"
    port = server.add_insecure_port(address)
    if port == 0:
        print(f"feastgo-worker: cannot listen on {address}", file=sys.stderr)
        return 1
    server.start()
    print(f"feastgo-worker listening on {address if args.socket else f'{args.host}:{port}'}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()
    stop.wait()
    server.stop(grace=5).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
