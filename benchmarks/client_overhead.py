"""Per-call overhead of PluginMonitor's context manager and decorator versus a bare call.

Usage: PYTHONPATH=src python benchmarks/client_overhead.py [--calls N] [--repeats R]
Prints the best-of-R time per call (µs) for each form and the overhead the monitor adds.
The background thread runs with a 1 s flush interval, as in production but faster, so the cost
of aggregation and sampling competes with the calls exactly as it would in a host.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time

from plugin_ai_analytics.collect import PluginMonitor


def plugin_call(x: int) -> int:
    return x + 1


async def async_plugin_call(x: int) -> int:
    return x + 1


def best_per_call_us(loop, calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        loop(calls)
        best = min(best, time.perf_counter() - started)
    return 1e6 * best / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    delivered: list[int] = []
    monitor = PluginMonitor("bench", sink=lambda _id, samples: delivered.append(len(samples)), flush_interval=1.0)
    tracked = monitor.tracked(plugin_call)
    async_tracked = monitor.tracked(async_plugin_call)
    track = monitor.track

    def bare(n: int) -> None:
        for i in range(n):
            plugin_call(i)

    def decorated(n: int) -> None:
        for i in range(n):
            tracked(i)

    def context_manager(n: int) -> None:
        for i in range(n):
            with track():
                plugin_call(i)

    def async_bare(n: int) -> None:
        async def drive() -> None:
            for i in range(n):
                await async_plugin_call(i)

        asyncio.run(drive())

    def async_decorated(n: int) -> None:
        async def drive() -> None:
            for i in range(n):
                await async_tracked(i)

        asyncio.run(drive())

    results = {
        name: best_per_call_us(fn, args.calls, args.repeats)
        for name, fn in [
            ("bare call", bare),
            ("@monitor.tracked", decorated),
            ("with monitor.track()", context_manager),
            ("bare await", async_bare),
            ("@monitor.tracked (async)", async_decorated),
        ]
    }
    monitor.close()

    print(f"python {platform.python_version()} on {platform.machine()}, {args.calls} calls x {args.repeats}")
    print(f"{'form':<28}{'µs/call':>10}{'overhead µs':>14}")
    baseline = {
        "@monitor.tracked": "bare call",
        "with monitor.track()": "bare call",
        "@monitor.tracked (async)": "bare await",
    }
    for name, us in results.items():
        overhead = f"{us - results[baseline[name]]:.3f}" if name in baseline else "-"
        print(f"{name:<28}{us:>10.3f}{overhead:>14}")
    print(f"samples delivered to the sink during the run: {sum(delivered)}; stats: {monitor.stats()}")


if __name__ == "__main__":
    main()
