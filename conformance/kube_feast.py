"""Run Feast's CLI as a pod of the test cluster would (scripts/kube-apiserver.sh): the
Kubernetes client's in-cluster files and Feast's namespace file are read from
$FEASTGO_TEST_KUBE_SA_DIR instead of /var/run/secrets/kubernetes.io/serviceaccount, the
only change. KUBERNETES_SERVICE_HOST and _PORT come from the environment, as in a pod.

    python kube_feast.py -c REPO serve -h HOST -p PORT
"""

import os
import sys

from kubernetes.config import incluster_config

from feast.permissions.auth import kubernetes_token_parser

sa_dir = os.environ["FEASTGO_TEST_KUBE_SA_DIR"]
incluster_config.SERVICE_TOKEN_FILENAME = os.path.join(sa_dir, "token")
incluster_config.SERVICE_CERT_FILENAME = os.path.join(sa_dir, "ca.crt")
kubernetes_token_parser._namespace_file_path = os.path.join(sa_dir, "namespace")

from feast.cli.cli import cli  # noqa: E402

sys.exit(cli())
