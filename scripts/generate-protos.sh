#!/usr/bin/env bash
# Regenerates Sources/SwitchboardGRPC/Generated from proto/.
#   scripts/generate-protos.sh          write the generated code
#   scripts/generate-protos.sh --check  fail if the committed code is not current
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/Sources/SwitchboardGRPC/Generated"
command -v protoc >/dev/null || { echo "protoc not found: apt-get install -y protobuf-compiler" >&2; exit 1; }

swift build --package-path "$root" --product protoc-gen-swift >&2
swift build --package-path "$root" --product protoc-gen-grpc-swift-2 >&2
bin="$(swift build --package-path "$root" --show-bin-path)"

target="$out"
if [[ "${1:-}" == "--check" ]]; then
  target="$(mktemp -d)"
  trap 'rm -rf "$target"' EXIT
fi

protos=(switchboard/v1/call_service.proto grpc/health/v1/health.proto)
protoc --proto_path="$root/proto" \
  --plugin="$bin/protoc-gen-swift" --swift_out="$target" --swift_opt=Visibility=Public \
  --swift_opt=FileNaming=PathToUnderscores \
  --plugin="$bin/protoc-gen-grpc-swift-2" --grpc-swift-2_out="$target" \
  --grpc-swift-2_opt=Visibility=Public --grpc-swift-2_opt=FileNaming=PathToUnderscores \
  "${protos[@]}"

if [[ "${1:-}" == "--check" ]]; then
  diff -ru "$out" "$target" && echo "generated code is current"
fi
