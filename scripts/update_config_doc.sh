#!/usr/bin/env bash
# Regenerate the field reference at the end of docs/config.md from the config
# field table (after changing a field or a default): everything after the
# marker paragraph is replaced by build/gen_config_doc's output.
set -euo pipefail
cd "$(dirname "$0")/.."
ninja -C build gen_config_doc >/dev/null
marker='it, and prints the generated text to paste here.'
head -n "$(grep -n "$marker" docs/config.md | cut -d: -f1)" docs/config.md > docs/config.md.new
echo >> docs/config.md.new
build/gen_config_doc >> docs/config.md.new
mv docs/config.md.new docs/config.md
