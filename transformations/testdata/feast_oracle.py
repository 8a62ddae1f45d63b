"""Feast 0.67.0 as a test oracle for on-demand feature views.

Reads one JSON request per line on stdin and answers one JSON line on stdout:

  request:  {"odfv": base64 OnDemandFeatureView proto,
             "request": [[name, [python values...]], ...]   # request data and join keys, as JSON
             "features": [[name, [base64 Value or null...], value_type], ...],
             "requested": [feature names], "full_names": bool}
  answer:   {"columns": [[name, [base64 Value...]], ...]}  or  {"error": "Class: message"}

It builds the partial online response exactly as feast serve does (request values typed by
python_values_to_proto_values with an unknown type, features as stored), then runs Feast's own
_augment_response_with_on_demand_transforms and returns the columns it appended.
"""

import base64
import json
import sys
import warnings

warnings.simplefilter("ignore")

from feast import utils  # noqa: E402
from feast.on_demand_feature_view import OnDemandFeatureView  # noqa: E402
from feast.protos.feast.core.OnDemandFeatureView_pb2 import OnDemandFeatureView as OdfvProto  # noqa: E402
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus, GetOnlineFeaturesResponse  # noqa: E402
from feast.protos.feast.types.Value_pb2 import Value  # noqa: E402
from feast.type_map import python_values_to_proto_values  # noqa: E402
from feast.value_type import ValueType  # noqa: E402


def answer(req):
    proto = OdfvProto()
    proto.ParseFromString(base64.b64decode(req["odfv"]))
    odfv = OnDemandFeatureView.from_proto(proto)
    resp = GetOnlineFeaturesResponse()

    def add(name, values):
        resp.metadata.feature_names.val.append(name)
        vec = resp.results.add()
        for v in values:
            vec.values.append(v)
            vec.statuses.append(FieldStatus.PRESENT)
            vec.event_timestamps.add()

    for name, values in req["request"]:
        add(name, python_values_to_proto_values(values, ValueType.UNKNOWN))
    types = {}
    for name, values, vtype in req["features"]:
        protos = []
        for b in values:
            v = Value()
            if b:
                v.ParseFromString(base64.b64decode(b))
            protos.append(v)
        add(name, protos)
        types[name] = ValueType(vtype)
    n = len(resp.results)
    refs = [f"{odfv.name}:{f}" for f in req["requested"]]
    utils._augment_response_with_on_demand_transforms(resp, refs, [odfv], req["full_names"], feature_types=types)
    cols = []
    for i, name in enumerate(list(resp.metadata.feature_names.val)[n:]):
        vals = [base64.b64encode(v.SerializeToString()).decode() for v in resp.results[n + i].values]
        cols.append([name, vals])
    return {"columns": cols}


def main():
    for line in sys.stdin:
        try:
            out = answer(json.loads(line))
        except Exception as e:  # the case's expected failure
            out = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
