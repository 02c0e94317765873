"""A small benchmark started from the Benchmark tab: `python -m eval.benchmark` in a child process (its own
memory, stopped for sure by Stop), its progress read from the bar it prints, its run listed in the tab when done.

    for status, new_run in start_run(ctx, 2, 3, ["original"], request): print(status)
    ⏳ Loading the models…
    ⏳ 1 of 2 sets made…
    ✅ Done: run page-20261202-101500 (2 prompts × 1 method, K = 3) in 21 s; it is shown above.

With sign-in, only study admins may start one (it keeps the CPU busy for a minute or two).
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import gradio as gr

from dppgrpo_core import checks
from dppgrpo_core.expand import METHODS
from eval.report import runs_folder
from pages.context import AppContext, bind, handler, is_admin, refused

ROOT = Path(__file__).resolve().parent.parent  # where `python -m eval.benchmark` is found
FAST_METHODS = ["original", "composer", "dpp-compose"]  # no language model: a small run takes a minute or two
MAX_RUN_PROMPTS = 10
K_RANGE = (2, 8)
_BAR = re.compile(rb"(\d+)/(\d+)")
_RUNNING: dict[str, subprocess.Popen] = {}  # session -> its child process, so Stop can end it


def run_command(settings, n_prompts: int, k: int, methods: list[str], out: Path) -> list[str]:
    """The child's command line: the server's own models and folders, the page's few choices."""
    command = [sys.executable, "-m", "eval.benchmark", "--n-prompts", str(n_prompts), "--k", str(k),
               "--methods", ",".join(methods), "--out", str(out), "--cache-dir", str(settings.cache_dir),
               "--device", settings.device, "--embedder", settings.embedder, "--policy", settings.policy]
    return command + (["--adapter", settings.adapter] if settings.adapter else [])


def check_run(n_prompts, k, methods) -> tuple[int, int, list[str]]:
    """The page's choices, checked; UserFacingError (one line) otherwise."""
    n_prompts = checks.number(n_prompts, "Prompts", 1, MAX_RUN_PROMPTS, whole=True)
    k = checks.number(k, "K", *K_RANGE, whole=True)
    if not isinstance(methods, list) or not methods or not all(m in METHODS for m in methods):
        raise refused(f"Choose one or more methods among {', '.join(METHODS)}.")
    return n_prompts, k, list(dict.fromkeys(methods))


def _reader(stream, inbox: queue.Queue) -> None:
    """The child's stderr as lines; tqdm redraws its bar with carriage returns, so those end a line too."""
    buffer = b""
    while chunk := stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096):
        buffer += chunk
        *lines, buffer = re.split(rb"[\r\n]", buffer)
        for line in lines:
            inbox.put(line)
    inbox.put(buffer)
    inbox.put(None)


def _session(request) -> str:
    return getattr(request, "session_hash", None) or "api"


@handler
def start_run(ctx: AppContext, n_prompts, k, methods, request: gr.Request = None, progress=gr.Progress()):
    """The Run button: (status line, name of the new run once it is done), streamed while the child runs."""
    if not is_admin(ctx, request):
        raise refused("Only study admins can start a benchmark run.")
    n_prompts, k, methods = check_run(n_prompts, k, methods)
    name = time.strftime("page-%Y%m%d-%H%M%S")
    out = runs_folder(ctx.settings.cache_dir) / name
    total = n_prompts * len(methods)
    process = subprocess.Popen(run_command(ctx.settings, n_prompts, k, methods, out), cwd=ROOT,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _RUNNING[_session(request)] = process
    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(process.stderr, inbox), daemon=True, name="benchmark-stderr").start()
    start, done, last = time.perf_counter(), 0, b""
    try:
        yield f"⏳ Started: {n_prompts} prompts × {len(methods)} methods, K = {k}. Loading the models…", None
        while True:
            try:
                line = inbox.get(timeout=1.0)
            except queue.Empty:
                line = b""
            if line is None:
                break
            if line.strip():
                last = line.strip()
            found = _BAR.search(line) if b"expanding" in line else None
            done = int(found.group(1)) if found else done
            progress((done, total), desc=f"{done} of {total} sets")
            elapsed = time.perf_counter() - start
            what = f"{done} of {total} sets made" if done else "Loading the models"
            yield f"⏳ {what}… ({elapsed:.0f} s)", gr.skip()
        code = process.wait()
    finally:
        _RUNNING.pop(_session(request), None)
        if process.poll() is None:
            process.kill()
    if code != 0:
        message = last.decode("utf-8", "replace").removeprefix("error: ")
        raise refused(f"The benchmark run stopped: {message.replace(str(ctx.settings.cache_dir), '<cache>')[:300]}")
    seconds = time.perf_counter() - start
    yield (f"✅ Done: run **{name}** ({n_prompts} prompts × {len(methods)} methods, K = {k}) in {seconds:.0f} s; "
           "it is shown above."), name


def stop_run(request: gr.Request = None) -> str:
    """The Stop button: the child process ends (its event is cancelled too)."""
    process = _RUNNING.pop(_session(request), None)
    if process is None or process.poll() is not None:
        return "Nothing is running."
    process.kill()
    return "⏹ Stopped: the run was cancelled (what it made so far is cached and reused by the next run)."


def build_run_panel(ctx: AppContext):
    """The "Run a small benchmark here" panel; returns (its run event, the state holding the new run's name)."""
    with gr.Accordion("Run a small benchmark here", open=False, elem_id="benchmark-run-panel"):
        gr.Markdown("VBench prompts drawn with seed 0, each expanded by every chosen method; the methods without a "
                    "language model take a minute or two on a CPU, the policy methods much longer.")
        with gr.Row():
            n_prompts = gr.Number(value=3, precision=0, label=f"Prompts (1 to {MAX_RUN_PROMPTS})")
            k = gr.Number(value=4, precision=0, label=f"K ({K_RANGE[0]} to {K_RANGE[1]})")
            methods = gr.CheckboxGroup(list(METHODS), value=FAST_METHODS, label="Methods")
        with gr.Row():
            run = gr.Button("Run", variant="primary", elem_id="benchmark-run")
            stop = gr.Button("Stop", variant="stop", size="sm")
        status = gr.Markdown(elem_id="benchmark-run-status", elem_classes=["dpp-live"])
    new_run = gr.State(None)
    started = run.click(bind(start_run, ctx), [n_prompts, k, methods], [status, new_run], api_visibility="private",
                        concurrency_id="benchmark", concurrency_limit=1)
    stop.click(stop_run, None, status, cancels=[started], queue=False, api_visibility="private")
    return started, new_run
