"""Benchmark publisher on generated corpora, beside Hugo doing the same job when it is installed.

For each size N it generates N articles (make_articles.py, seeded), then times:
cold build (no cache, no outputs), no-op rerun, a rerun after one file changed, the weekly
digest on a warm cache, and Hugo's build of per-topic RSS and Atom feeds. Each case reports the
median wall time of its runs and the peak RSS summed over the whole process tree.

Usage: python bench/run.py [N ...] [--work DIR] [--runs K] [--archives]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALLED = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
"""Commands run as installed: Python keeps its compiled modules, as a package install does."""
DIGEST_WEEK = "2024-W10"


@dataclass
class Measurement:
    seconds: float
    peak_rss_mib: float


def measure(command: list[str], *, memory: bool = False) -> Measurement:
    """Run ``command``; its wall time, and with ``memory`` the peak RSS of its process tree.

    Sampling /proc costs CPU the measured command would use, so timed runs do not sample.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=INSTALLED
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    if memory:
        sampler.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}): {stderr.decode()[-500:]}")
    return Measurement(seconds, peak / 1024)


def _tree_rss_kib(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields["PPid"]), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def median_of(runs: int, prepare: Callable[[int], None], command: list[str]) -> Measurement:
    """The median time of ``runs`` timed runs, and the peak memory of one more, sampled run."""
    seconds = []
    for run in range(runs):
        prepare(run)
        seconds.append(measure(command).seconds)
    prepare(runs)
    return Measurement(statistics.median(seconds), measure(command, memory=True).peak_rss_mib)


def bench_size(
    count: int, work: Path, runs: int, hugo: str | None, archives: bool
) -> dict[str, Measurement]:
    corpus = work / f"corpus-{count}"
    if not corpus.is_dir():
        subprocess.run(
            [sys.executable, str(HERE / "make_articles.py"), str(count), str(corpus)], check=True
        )
    # Hugo's job: the newest articles of each topic, no archive pages. With --archives the
    # default set-up (RFC 5005 archive pages behind every feed) is measured too.
    results = bench_site(count, work / f"site-{count}", corpus, runs, archives=False)
    if archives:
        with_archives = bench_site(count, work / f"site-{count}-archives", corpus, runs, True)
        results |= {f"{case}, archives on": value for case, value in with_archives.items()}
    if hugo:
        results["hugo"] = bench_hugo(hugo, corpus, work / f"hugo-{count}", runs)
    return results


def bench_site(
    count: int, site: Path, corpus: Path, runs: int, archives: bool
) -> dict[str, Measurement]:
    site.mkdir(parents=True, exist_ok=True)
    config = site / "config.toml"
    config.write_text(
        f'content = "{corpus}"\nout = "feeds"\ncache_dir = "cache"\n'
        '[site]\nurl = "https://bench.example.org/feeds/"\n'
        f"[archive]\nenabled = {'true' if archives else 'false'}\n"
        '[digest]\nout = "newsletters"\narchive = "_newsletters"\n'
        'unsubscribe_url = "https://bench.example.org/unsubscribe"\n'
        'postal_address = "1 Bench Street, Example City"\n'
    )
    publisher = [sys.executable, "-m", "publisher"]
    build = [*publisher, "build", "--config", str(config), "-q"]

    def clean(_: int) -> None:
        shutil.rmtree(site / "feeds", ignore_errors=True)
        shutil.rmtree(site / "cache", ignore_errors=True)

    results = {"cold build": median_of(runs, clean, build)}
    results["no-op rerun"] = median_of(runs, lambda _: None, build)
    changed = sorted(corpus.glob("*.md"))[count // 2]
    original = changed.read_bytes()
    an_hour_ago = time.time() - 3600

    def change_one(run: int) -> None:
        changed.write_bytes(original.replace(b'title: "', f'title: "Edit {run}: '.encode(), 1))
        # Older than the last build by more than two seconds, as an edit usually is: a file
        # changed in the same two seconds as the run is read again by the next one.
        os.utime(changed, (an_hour_ago + run, an_hour_ago + run))

    results["one file changed"] = median_of(runs, change_one, build)
    changed.write_bytes(original)
    measure(build)
    if not archives:
        digest = [*publisher, "digest", "--config", str(config), "--week", DIGEST_WEEK, "-q"]
        results["digest --week (warm)"] = median_of(runs, lambda _: None, digest)
    return results


def bench_hugo(hugo: str, corpus: Path, site: Path, runs: int) -> Measurement:
    """Hugo on the same corpus: per-topic RSS and Atom, 50 newest with quality >= 50."""
    if not site.is_dir():
        shutil.copytree(HERE / "hugo", site)
        news = site / "content" / "news"
        news.mkdir(parents=True)
        for article in corpus.glob("*.md"):
            os.link(article, news / article.name)

    def clean(_: int) -> None:
        shutil.rmtree(site / "public", ignore_errors=True)
        shutil.rmtree(site / "resources", ignore_errors=True)

    return median_of(runs, clean, [hugo, "--quiet", "-s", str(site), "-d", str(site / "public")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[1000, 10000, 50000, 200000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/publisher-bench"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--archives", action="store_true", help="also measure the default set-up, archives on"
    )
    args = parser.parse_args()
    hugo = shutil.which("hugo")
    print(f"publisher on {os.cpu_count()} cores; Hugo: {hugo or 'not installed'}")
    print("\n| case | N | median s | peak RSS MiB (tree) | vs Hugo |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for count in args.sizes:
        results = bench_size(count, args.work, args.runs, hugo, args.archives)
        reference = results.get("hugo")
        for case, result in results.items():
            ratio = f"{result.seconds / reference.seconds:.2f}x" if reference else "-"
            seconds, memory = f"{result.seconds:.3f}", f"{result.peak_rss_mib:.0f}"
            print(f"| {case} | {count:,} | {seconds} | {memory} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
