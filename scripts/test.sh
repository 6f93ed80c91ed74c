#!/usr/bin/env bash
# README command 2: install what is needed, build with ASan/UBSan, run every test through
# ctest (unit + integration), then build the libFuzzer targets with clang and run each for a
# bounded time on its committed seed corpus (also through ctest). Fails on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

jobs=$(nproc)
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTERN_SANITIZE=ON >/dev/null
cmake --build build/test -j "$jobs"
# detect_leaks stays on: a leak is a failure.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build/test --output-on-failure -j "$jobs"

CC=clang-14 CXX=clang++-14 cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTERN_FUZZ=ON -DTERN_TESTS=OFF >/dev/null
cmake --build build/fuzz -j "$jobs" --target tern_fuzz_all
ctest --test-dir build/fuzz --output-on-failure -j "$jobs"
