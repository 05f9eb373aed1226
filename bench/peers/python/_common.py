"""Shared parts of the asyncio peers: arguments, choice of event loop, the result line.

Every peer script runs on the stock asyncio loop, or on uvloop when given --uvloop.
Arguments follow bench/README.md: --key=value, defaults from WORKLOADS.md.
"""
import argparse
import asyncio
import sys


def parser(workload, description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio")
    p.set_defaults(workload=workload)
    return p


def impl(args):
    return "uvloop" if args.uvloop else "asyncio"


def run(main, args):
    """Run the coroutine function main() on the chosen loop and return its result."""
    if args.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(main())


def fail(args, message):
    print(f"{args.workload}: {impl(args)}: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def report(args, **fields):
    """Print the one result line: impl=, workload= first, then the fields in order."""
    parts = [f"impl={impl(args)}", f"workload={args.workload}"]
    for key, value in fields.items():
        if isinstance(value, float):
            value = f"{value:.6f}" if key.endswith("secs") else f"{value:.1f}"
        parts.append(f"{key}={value}")
    print(" ".join(parts), flush=True)
