#!/usr/bin/env bash
# The lower bounds of requirements.txt are versions the app runs on: install exactly those floors (torch:
# 2.14.1, the one build installable on our machines) in a venv of their own, then run the page tests
# (AppTest, every page) and the class lesson on a real server against them. Not part of CI: about
# 6 minutes here, most of it installing.
#   bash scripts/check_floors.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
venv=${FLOORS_VENV:-.venv-floors}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
sed -nE 's/^([A-Za-z0-9_.-]+)>=([^ ;#]+).*$/\1==\2/p' requirements.txt requirements-dev.txt \
  | grep -viE '^torch(vision)?==' > "$venv/floors.txt"
"$venv/bin/pip" install -q -c "$venv/floors.txt" -r requirements-dev.txt torch==2.14.1 torchvision==0.29.1
echo "Installed at their floors:"
"$venv/bin/pip" list --format=freeze | grep -iFf <(sed -E 's/==.*//' "$venv/floors.txt" | sed 's/$/==/')
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/test_app.py \
  tests/test_bench.py::test_the_class_lesson_runs_every_step_for_three_students "$@"
