#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter, or fail with a clear message.
set -u
candidates=(python3.13 python3.12 python3)
for dir in "$HOME"/.pyenv/versions/3.1[2-9]*/bin /usr/local/bin /usr/bin; do
  for name in python3.13 python3.12; do
    [ -x "$dir/$name" ] && candidates+=("$dir/$name")
  done
done
for py in "${candidates[@]}"; do
  path=$(command -v "$py" 2>/dev/null) || continue
  if "$path" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    echo "$path"
    exit 0
  fi
done
echo "error: aiida-polymer needs Python >= 3.12 (acpype's AmberTools require it); none was found." >&2
echo "       Install one (e.g. 'pyenv install 3.12' or your distribution's python3.12) and run again," >&2
echo "       or pass it explicitly: make PYTHON=/path/to/python3.12 ..." >&2
exit 1
