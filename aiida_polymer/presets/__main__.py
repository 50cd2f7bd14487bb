"""``python -m aiida_polymer.presets``: list, fill and apply the computer/code presets.

python -m aiida_polymer.presets list
python -m aiida_polymer.presets render computers/fugaku group=hp123456 > fugaku.yaml
python -m aiida_polymer.presets policy fugaku --poll-interval 60    # in the profile: AIIDA_PROFILE or default
"""

from __future__ import annotations

import argparse
import sys

from . import KINDS, apply_policy, names, placeholders, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiida_polymer.presets", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the presets and their placeholders")
    fill = commands.add_parser("render", help="print a preset with its placeholders filled")
    fill.add_argument("preset", help="KIND/NAME, e.g. computers/fugaku")
    fill.add_argument("values", nargs="*", metavar="NAME=VALUE")
    policy = commands.add_parser("policy", help="set a computer's minimum job poll interval")
    policy.add_argument("computer")
    policy.add_argument("--poll-interval", type=float, default=None, help="seconds (default 60 over SSH)")
    args = parser.parse_args(argv)

    if args.command == "list":
        for kind in KINDS:
            for name in names(kind):
                fields = ", ".join(f"{k}={v}" if v is not None else f"{k} (required)"
                                   for k, v in placeholders(kind, name).items())  # fmt: skip
                print(f"{kind}/{name}: {fields}")
    elif args.command == "render":
        kind, _, name = args.preset.partition("/")
        values = dict(item.split("=", 1) for item in args.values)
        try:
            sys.stdout.write(render(kind, name, **values))
        except ValueError as exc:
            parser.error(str(exc))
    else:
        return _policy(args.computer, args.poll_interval)
    return 0


def _policy(label: str, poll_interval: float | None) -> int:
    """Set a computer's poll interval; a missing profile or computer is a message on stderr and exit code 1."""
    import os

    from aiida import get_profile, load_profile, orm
    from aiida.common.exceptions import ConfigurationError, MultipleObjectsError, NotExistent

    try:
        if get_profile() is None:
            load_profile(os.environ.get("AIIDA_PROFILE") or None)
    except ConfigurationError as exc:  # no configuration, no such profile, no default profile
        print(f"error: no AiiDA profile to set the policy in ({exc}); set AIIDA_PATH (the project's: "
              f"export AIIDA_PATH=<repo>/.aiida) or AIIDA_PROFILE", file=sys.stderr)
        return 1
    try:
        computer = orm.load_computer(label)
    except (NotExistent, MultipleObjectsError):
        known = ", ".join(sorted(c.label for c in orm.Computer.collection.all())) or "none"
        print(f"error: no computer {label!r} in the profile {get_profile().name!r} (computers: {known}); set it up "
              f"first: verdi computer setup --config FILE -n (python -m aiida_polymer.presets render computers/...)",
              file=sys.stderr)
        return 1
    apply_policy(computer, poll_interval=poll_interval)
    print(f"{computer.label}: minimum job poll interval {computer.get_minimum_job_poll_interval()} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
