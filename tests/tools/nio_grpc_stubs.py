"""The nio.v1 Python gRPC stubs, generated from proto/ at run time with
protoc and Debian's grpc_python_plugin (protobuf-compiler-grpc), so a stock
grpcio client talks to the server without generated files in the repo."""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load():
    """Returns (nio_pb2, nio_pb2_grpc)."""
    out = tempfile.mkdtemp(prefix="nio-stubs-")
    subprocess.run(["protoc", f"-I{os.path.join(ROOT, 'proto')}", f"--python_out={out}",
                    f"--grpc_out={out}", "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    os.path.join(ROOT, "proto", "nio", "v1", "nio.proto")], check=True)
    for d in ("nio", os.path.join("nio", "v1")):
        open(os.path.join(out, d, "__init__.py"), "a").close()
    sys.path.insert(0, out)
    from nio.v1 import nio_pb2, nio_pb2_grpc
    return nio_pb2, nio_pb2_grpc
