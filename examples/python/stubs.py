"""Generates the Python stubs of proto/ at run time (grpcio-tools), so none are committed."""

import importlib
import pathlib
import sys
import tempfile

from grpc_tools import protoc

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"


def load():
    """Returns the (messages, services) modules of switchboard/v1/call_service.proto."""
    out = tempfile.mkdtemp(prefix="switchboard-stubs-")
    include = pathlib.Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    status = protoc.main([
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        "switchboard/v1/call_service.proto",
    ])
    if status != 0:
        sys.exit(f"protoc failed with {status}")
    sys.path.insert(0, out)
    messages = importlib.import_module("switchboard.v1.call_service_pb2")
    services = importlib.import_module("switchboard.v1.call_service_pb2_grpc")
    return messages, services
