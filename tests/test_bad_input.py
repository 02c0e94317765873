"""Bad input everywhere (issue 12): every app endpoint and every command line, fed what careless users and
attackers send: empty, huge (1 MB), control characters, lone surrogates, HTML, traversal paths, out-of-range
and non-finite numbers, malformed manifests and YAML. Issue 23 adds values that were silently coerced (an
object or NaN as text, 3.5 as a whole number, a list for one choice, zero-width spaces, look-alike letters),
JSON that Python reads badly (200,000 brackets deep, a 5,000-digit number, a key twice) and files that are
not files (/dev/zero, a FIFO, /proc).

Every case must get one clear line: a gr.Error message from the app (never a blank `{"error": null}`),
`error: ...` on stderr and exit status 2 from a command (never a traceback). The study database is the
same after every bad call, and the app still answers a valid request afterwards.

The app is launched once and driven over raw HTTP (Gradio's /call API): gradio_client refuses to send NaN or
a lone surrogate, which a hand-written request sends without trouble. Heavy commands run in-process
(`main(argv)`); a few run as real processes, with argv bytes that are not UTF-8.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from dppgrpo_core.settings import Settings
from dppgrpo_core.study.store import AnnotationStore
from tests.app_testing import launch_app

REPO = Path(__file__).resolve().parent.parent
NAN, INF = float("nan"), float("inf")
HUGE = "x" * 1_000_000
SURROGATE = "a\ud800b"
HTML = "<script>alert(1)</script><img src=x onerror=alert(1)>"
TRAVERSAL = "../../../etc/passwd"

ZERO_WIDTH = "\u200b\u200b \u2060"  # looks blank, is not whitespace to str.strip
TEXT = {"empty": "", "huge": HUGE, "control": "a\x00b\x1b[31m", "surrogate": SURROGATE, "zero-width": ZERO_WIDTH,
        "object": {"a": 1}, "number": NAN}  # an object or a number is never turned into text ("{'a': 1}", "nan")
IDENTIFIER = {**TEXT, "html": HTML, "traversal": TRAVERSAL, "look-alike": "pr\u043ebe"}  # a Cyrillic о in "probe"
NUMBER = {"nan": NAN, "inf": INF, "-inf": -INF, "2**64": 2**64, "-1": -1, "text": SURROGATE, "huge text": HUGE}
WHOLE = {**NUMBER, "3.5": 3.5}  # a whole-number field never rounds 3.5 to 4
CHOICE = {"surrogate": SURROGATE, "huge": HUGE, "traversal": TRAVERSAL, "html": HTML, "nan": NAN}
FLAG = {"text false": "false", "nan": NAN}
SEEDS = {"huge": HUGE, "surrogate": SURROGATE, "html": HTML, "traversal": TRAVERSAL, "nan": "nan", "-1": "-1",
         "2**64": str(2**64), "control": "1\x00", "number": 3.5, "object": {"a": 1}}
EXAMPLE = {"past the end": 10**6, "-1": -1, "nan": NAN, "text": SURROGATE, "none": None, "list": [1]}

# Valid values of text inputs, by parameter name (a bad value goes in one position; the rest stay valid, so
# an accepted bad value runs for real and the test sees it). Other inputs keep the app's own defaults.
VALID_TEXT = {"prompt": "a dog", "typed": "probe", "note": "fine"}
VALID_CHOICE = {"method": "original", "method_b": "original"}
NO_CLIENT_INPUT = {"/prompts_from_set", "/refresh_runs"}  # and every lambda_N: buttons and state only


def corpus_for(parameter: dict) -> dict:
    """The bad values for one API parameter, by its component (and, for text, what the text is)."""
    component, name, default = parameter["component"], parameter["parameter_name"], parameter.get("parameter_default")
    if component == "Number" and (parameter.get("type") or {}).get("type") == "integer":
        return WHOLE
    if component in ("Number", "Slider"):
        return NUMBER
    if component == "Dropdown":
        return CHOICE
    if component == "Radio":
        return CHOICE | {"0": 0, "6": 6, "2.5": 2.5}
    if component == "Checkbox":
        return FLAG
    if component == "Dataset":
        return EXAMPLE
    if component == "Textbox" and name == "typed":
        return IDENTIFIER  # an annotator id: markup and paths are refused too
    if component == "Textbox" and default == "0":
        return SEEDS
    if component == "Textbox" and name in ("note", "negative_prompt"):  # a blank comment or negative prompt is fine
        return {k: v for k, v in TEXT.items() if k not in ("empty", "zero-width")} | {"bell": "a\x07"}
    if component == "Textbox":
        return TEXT
    raise AssertionError(f"no bad-input corpus for a {component} ({name}): add one to corpus_for")


def endpoints(app) -> dict[str, list[dict]]:
    """Every endpoint a client can call, name -> parameters ({parameter_name, component, parameter_default})."""
    from gradio_client import Client

    client = Client(app["url"], verbose=False)
    found = {name: info["parameters"] for name, info in
             client.view_api(return_format="dict", print_info=False)["named_endpoints"].items()}
    for dependency in client.config["dependencies"]:  # "undocumented" ones are callable but not listed
        if dependency.get("api_visibility") == "undocumented" and dependency.get("api_name") == "load_example":
            found["/load_example"] = [{"parameter_name": "index", "component": "Dataset", "parameter_default": 0}]
    return found


def valid_value(parameter: dict):
    name, default = parameter["parameter_name"], parameter.get("parameter_default")
    if parameter["component"] == "Textbox":
        return VALID_TEXT.get(name, default if default not in (None, "") else "a dog")
    return VALID_CHOICE.get(name, default)


# ----- the launched app, a raw client, the database -----
def db_dump(path) -> str:
    with sqlite3.connect(path) as conn:
        return "\n".join(conn.iterdump())


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-input")
    db = folder / "study.db"
    store = AnnotationStore(db)
    store.add_items([{"item_id": "i1", "prompt": "a dog", "method": "dpp-grpo", "prompts": ["a", "b"]}])
    store.annotator_seed("probe")  # so a valid /start reads and never writes
    store.add_rating("rated", "i1", 4, 4, comment="kept")
    settings = Settings(device="cpu", cache_dir=str(folder / "cache"), annotations_db=str(db))
    demo, url = launch_app(settings)
    client = httpx.Client(base_url=url + "gradio_api/", timeout=120)
    try:
        yield {"url": url, "http": client, "db": db, "dump": db_dump(db), "folder": folder}
    finally:
        client.close()
        demo.close()


def _strings(detail) -> list[str]:
    if isinstance(detail, str):
        return [detail]
    if isinstance(detail, dict):
        return [s for key in ("message", "msg", "error", "detail") if key in detail for s in _strings(detail[key])]
    if isinstance(detail, list):
        return [s for item in detail for s in _strings(item)]
    return []


def call(app, api: str, data: list, session: str | None = None):
    """("complete", outputs) or ("error", message) of one /call request, sent as raw JSON (NaN and lone
    surrogate escapes included). A refusal at queue join (HTTP 400 / 422, Gradio's validators) counts as
    an error whose message is the response's detail."""
    body = json.dumps({"data": data, "session_hash": session or uuid.uuid4().hex}, allow_nan=True)
    name = api.strip("/")
    response = app["http"].post(f"call/{name}", content=body, headers={"content-type": "application/json"})
    if response.status_code != 200:
        detail = response.json().get("detail")
        messages = [m for m in _strings(json.loads(detail) if _is_json(detail) else detail) if m]
        return "error", "; ".join(messages) if messages else None
    event_id = response.json()["event_id"]
    event = None
    with app["http"].stream("GET", f"call/{name}/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event in ("complete", "error"):
                data = json.loads(line[len("data: "):])
                return (event, data) if event == "complete" else (event, (data or {}).get("error"))
    return "closed", None


def _is_json(text) -> bool:
    try:
        json.loads(text)
        return True
    except (TypeError, ValueError):
        return False


def assert_one_clear_line(kind, message):
    assert kind == "error", f"accepted: {str(message)[:200]}"
    assert isinstance(message, str) and message.strip(), "a blank error: the client learns nothing"
    assert "\n" not in message and "Traceback" not in message and len(message) <= 1200, message[:300]


WRITERS = {"/start", "/submit"}  # the endpoints that may write the study: one call at a time, the store checked after each


def _bad_call(app, api, data, session):
    if api == "/submit":  # rating needs a signed-in session with an item on screen
        assert call(app, "/start", ["probe"], session)[0] == "complete"
    kind, message = call(app, api, data, session)
    assert_one_clear_line(kind, message)
    if api in WRITERS:
        assert db_dump(app["db"]) == app["dump"], "the study database changed"


def test_every_endpoint_answers_every_bad_value_with_a_gr_error_line(app, capfd):
    from concurrent.futures import ThreadPoolExecutor

    capfd.readouterr()
    found = endpoints(app)
    assert {"/expand", "/compare", "/on_render", "/start", "/submit", "/load_example"} <= set(found)
    cases = []
    for api, parameters in found.items():
        if not parameters:
            assert api in NO_CLIENT_INPUT or api.startswith("/lambda"), f"{api}: what does it do without input?"
            continue
        valid = [valid_value(p) for p in parameters]
        for position, parameter in enumerate(parameters):
            corpus = corpus_for(parameter)
            if parameter["component"] in ("Dropdown", "Radio") and (parameter.get("type") or {}).get("type") != \
                    "array" and valid[position] is not None:
                corpus = corpus | {"a list of a choice": [valid[position]]}  # one choice, never a list
            for label, value in corpus.items():
                data = list(valid)
                data[position] = value
                cases.append((f"{api} {parameter['parameter_name']}={label}", api, data))

    def run(case):
        name, api, data = case
        try:
            _bad_call(app, api, data, uuid.uuid4().hex)
        except AssertionError as exc:
            return f"{name}: {str(exc).splitlines()[0][:200]}"
        return None

    readers = [case for case in cases if case[1] not in WRITERS]
    with ThreadPoolExecutor(max_workers=6) as pool:  # the app serves several sessions at once; so does this
        failures = [f for f in pool.map(run, readers) if f]
    failures += [f for f in map(run, [case for case in cases if case[1] in WRITERS]) if f]
    assert len(cases) > 150 and not failures, "\n".join(failures)
    assert db_dump(app["db"]) == app["dump"], "the study database changed"
    # Refusals are the client's business: no traceback in the server's log (a value below a field's minimum).
    assert "Traceback" not in capfd.readouterr().err


# ----- the command lines -----
def one_error_line(err: str) -> str:
    """The single `error:` line of stderr (warnings and progress bars may come before it, tracebacks never)."""
    assert "Traceback" not in err, err[-2000:]
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err[-2000:]
    assert len(errors[0]) <= 800
    return errors[0]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    """Malformed manifests, prompt sets and YAML recipes, written once."""
    root = tmp_path_factory.mktemp("bad-files")
    (root / "clips").mkdir()
    for n in range(17):
        (root / "clips" / f"{n}.mp4").write_bytes(b"clip")
    item = {"item_id": "x", "prompt": "a dog", "method": "m", "prompts": ["a", "b"]}

    def line(**change):
        return json.dumps({**item, **change})

    manifests = {
        "not json": "{not json\n", "empty": "", "a list": "[1, 2]\n", "nan": line().replace('"a"', "NaN"),
        "deep": "[" * 100_000 + "]" * 100_000, "not utf-8": b"\xff\xfe{}\n",
        "surrogate": line().replace("a dog", "a \\ud800 dog"), "control": line(prompt="a\x00dog"),
        "huge prompt": line(prompt=HUGE), "huge id": line(item_id=HUGE), "html id": line(item_id=HTML + "\n"),
        "traversal": line(prompts=None, videos=[TRAVERSAL]), "absolute": line(prompts=None, videos=["/etc/hostname"]),
        "not a video": line(prompts=None, videos=["../bad-manifest-not-utf-8.jsonl"]),
        "unknown field": line(evil=1), "videos not a list": line(prompts=None, videos="clips/0.mp4"),
        "17 clips": line(prompts=None, videos=[f"clips/{n}.mp4" for n in range(17)]),
        "attention text": line(attention_check="false"), "number prompt": line(prompt=5),
        "deep 200000": "[" * 200_000 + "]" * 200_000, "5000 digits": line()[:-1] + ', "n": ' + "9" * 5000 + "}",
        "duplicate keys": line()[:-1] + ', "method": "other"}',
    }
    paths = {}
    for name, text in manifests.items():
        path = root / f"bad-manifest-{name.replace(' ', '-')}.jsonl"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        paths[f"manifest {name}"] = path
    prompt_sets = {"not json": "[", "nan": "[NaN]", "deep": "[" * 100_000, "not utf-8": b'["\xff"]', "empty": "[]",
                   "surrogate": '["a \\ud800"]', "control": '["a\\u0000"]', "huge": json.dumps([HUGE]),
                   "numbers": "[1, 2]", "object": '{"steps": [{"no": 1}]}',
                   "deep 200000": "[" * 200_000 + "]" * 200_000, "5000 digits": "[" + "9" * 5000 + "]",
                   "duplicate keys": '{"prompts": ["a dog"], "prompts": ["a cat"]}', "zero-width": f'["{ZERO_WIDTH}"]'}
    for name, text in prompt_sets.items():
        path = root / f"bad-set-{name.replace(' ', '-')}.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        paths[f"prompts {name}"] = path
    (root / "good-set.json").write_text('["a dog"]')
    recipes = {"not utf-8": b"learning_rate: \xff\n", "malformed": "max_steps: [1\n", "a list": "- a\n- b\n",
               "deep": "a: " + "[" * 10_000 + "]" * 10_000 + "\n", "unknown": "lambda_dvi: 0.5\n",
               "nan lambda": "lambda_div: .nan\n", "inf lr": "learning_rate: .inf\n", "html": f"{HTML}: 1\n",
               "huge": "# " + "x" * 2_000_000 + "\n", "python tag": "a: !!python/object/apply:os.system ['id']\n"}
    for name, text in recipes.items():
        path = root / f"bad-recipe-{name.replace(' ', '-')}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        paths[f"yaml {name}"] = path
    data = root / "data"
    data.mkdir()
    (data / "train.parquet").write_bytes(b"")  # exists: the recipe checks pass, nothing is read before the refusal
    (root / "a-file").write_text("not a folder")
    return root, paths


MANIFEST_CASES = ["not json", "empty", "a list", "nan", "deep", "not utf-8", "surrogate", "control", "huge prompt",
                  "huge id", "html id", "traversal", "absolute", "not a video", "unknown field", "videos not a list",
                  "17 clips", "attention text", "number prompt", "deep 200000", "5000 digits", "duplicate keys"]
MANIFEST_EXPECTED = {"deep 200000": "nested too deeply", "5000 digits": "a number has 5,000 digits",
                     "duplicate keys": "the key 'method' appears twice"}


@pytest.mark.parametrize("case", MANIFEST_CASES)
def test_a_malformed_manifest_is_refused_by_the_command_and_the_upload(app, bad_files, capsys, case):
    import gradio as gr

    from dppgrpo_core.study.command import main as study
    from pages.annotate_setup import import_manifest_upload

    root, paths = bad_files
    manifest = paths[f"manifest {case}"]
    assert study(["import", str(manifest), "--db", str(app["db"])]) == 2
    assert MANIFEST_EXPECTED.get(case, "") in one_error_line(capsys.readouterr().err)
    ctx = type("Ctx", (), {"settings": Settings(annotations_db=str(app["db"]), media_root=str(root)),
                           "auth": None, "admins": set()})()
    with pytest.raises(gr.Error) as refused:
        import_manifest_upload(ctx, str(manifest), None)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 800
    assert db_dump(app["db"]) == app["dump"]


def _study_cases(root: Path, app_db: Path):
    junk = root / "a-file"
    return {
        "status typo db": ["status", "--db", str(root / "typo" / "x.db")],
        "status db folder": ["status", "--db", str(root)],
        "status db not sqlite": ["status", "--db", str(junk)],
        "export to a folder": ["export", "--db", str(app_db), "--out", str(root / "clips") + "/"],
        "export xlsx": ["export", "--db", str(app_db), "--out", str(root / "r.xlsx")],
        "export under a file": ["export", "--db", str(app_db), "--out", str(junk / "r.csv")],
        "surrogate argv": ["status", "--db", "x\udcff.db"],
        "no command": [],
        "unknown command": ["drop"],
        "missing manifest": ["import", str(root / "nope.jsonl"), "--db", str(app_db)],
        "manifest is a folder": ["import", str(root), "--db", str(app_db)],
    }


def _video_cases(root: Path, paths: dict):
    good = ["--prompts-file", str(root / "good-set.json"), "--model", "tiny-random-wan", "--device", "cpu",
            "--cache-dir", str(root / "cache")]
    out = ["--out", str(root / "videos")]
    cases = {f"prompts file {name}": ["--prompts-file", str(paths[f"prompts {name}"]), *good[2:], *out]
             for name in ("not json", "nan", "deep", "not utf-8", "empty", "surrogate", "control", "huge", "numbers",
                          "object", "deep 200000", "5000 digits", "duplicate keys", "zero-width")}
    cases.update({
        "guidance nan": [*good, *out, "--guidance", "nan"], "guidance inf": [*good, *out, "--guidance", "inf"],
        "steps 1e9": [*good, *out, "--steps", "1000000000"], "steps -1": [*good, *out, "--steps", "-1"],
        "fps text": [*good, *out, "--fps", "fast"], "height 2**64": [*good, *out, "--height", str(2**64)],
        "batch 0": [*good, *out, "--batch-size", "0"], "seed 2**64": [*good, *out, "--seeds", str(2**64)],
        "seed nan": [*good, *out, "--seeds", "nan"], "seeds count": [*good, *out, "--seeds", "1,2,3"],
        "negative prompt control": [*good, *out, "--negative-prompt", "a\x01"],
        "out is a file": [*good, "--out", str(root / "a-file")],
        "out under a file": [*good, "--out", str(root / "a-file" / "videos")],
        "out read-only place": [*good, "--out", "/proc/dppgrpo-test/videos"],
        "device bogus": [*good[:4], "--device", "bogus", *good[6:], *out],
        "unknown model": [*good[:2], "--model", TRAVERSAL, *good[4:], *out],
        "missing prompts file": ["--prompts-file", str(root / "nope.json"), *good[2:], *out],
        "surrogate argv": [*good, "--out", "v\udcff"],
    })
    return cases


def _build_data_cases(root: Path):
    out = ["--out", str(root / "dataset")]
    return {"n-base 1e9": ["--n-base", "1000000000", *out], "n-base nan": ["--n-base", "nan", *out],
            "n-base 0": ["--n-base", "0", *out], "k 1": ["--k", "1", *out], "candidates 1e5": ["--candidates",
                                                                                           "100000", *out],
            "candidates < k": ["--k", "10", "--candidates", "5", *out], "test-fraction nan": ["--test-fraction",
                                                                                           "nan", *out],
            "min-relevance inf": ["--min-relevance", "inf", *out], "seed -1": ["--seed", "-1", *out],
            "seed 2**64": ["--seed", str(2**64), *out], "out is a file": ["--n-base", "2", "--out",
                                                                          str(root / "a-file")],
            "device bogus": ["--n-base", "2", "--device", "bogus", *out], "no out": ["--n-base", "2"]}


def _training_cases(root: Path, paths: dict):
    base = ["--dataset_path", str(root / "data"), "--output_dir", str(root / "train-out")]
    cases = {f"yaml {name}": ["--config", str(paths[f"yaml {name}"]), *base]
             for name in ("not utf-8", "malformed", "a list", "deep", "unknown", "nan lambda", "inf lr", "html",
                          "huge", "python tag")}
    cases.update({
        "lambda nan": [*base, "--lambda_div", "nan"], "lambda inf": [*base, "--lambda_rel", "inf"],
        "lambda negative": [*base, "--lambda_div", "-1"], "lr nan": [*base, "--learning_rate", "nan"],
        "lr text": [*base, "--learning_rate", "fast"], "nothing to resume": [*base, "--resume_from_checkpoint", "true"],
        "resume from nowhere": [*base, "--resume_from_checkpoint", str(root / "nope")],
        "missing config": ["--config", str(root / "nope.yaml"), *base], "surrogate argv": [*base, "--run_name", "\udcff"],
    })
    return cases


def _app_cases():
    return {"port nan": ["--port", "nan"], "port 70000": ["--port", "70000"], "auth no password": ["--auth", "bob"],
            "auth path user": ["--auth", "../x:pw"], "auth html user": ["--auth", f"{HTML}:pw"],
            "admin not a user": ["--auth", "a:pw", "--admin", "b"], "surrogate argv": ["--host", "\udcff"]}


def _expand_cases():
    return {"empty query": ["", "-k", "2"], "huge query": [HUGE, "-k", "2"], "control query": ["a\x00dog"],
            "k 51": ["a dog", "-k", "51"], "k nan": ["a dog", "-k", "nan"], "seed nan": ["a dog", "--seed", "nan"],
            "seed 2**64": ["a dog", "--seed", str(2**64)], "lambda nan": ["a dog", "--lambda-div", "nan"],
            "temperature inf": ["a dog", "--temperature", "inf"], "candidates 1e5": ["a dog", "--n-candidates",
                                                                                    "100000"],
            "surrogate argv": ["a \udcff dog"], "zero-width query": [ZERO_WIDTH, "-k", "2"],
            "cache dir in /proc": ["a dog", "-k", "1", "--method", "iid", "--cache-dir", "/proc/dppgrpo-test"]}


def _max_base_prompts() -> str:
    from training.architect import all_base_prompts

    return f"{len(all_base_prompts()):,}"


EXPECTED = {  # what some of the lines must say (the cases)
    ("video", "device bogus"): "device 'bogus' is not a device",
    ("build_data", "device bogus"): "device 'bogus' is not a device",
    ("video", "out is a file"): "is a file",
    ("video", "out read-only place"): "Cannot write to --out",
    ("video", "guidance nan"): "got 'nan'",
    ("video", "seed 2**64"): "seed must be a whole number from 0 to 9223372036854775807",
    ("build_data", "n-base 1e9"): "the templates make at most ",
    ("grpo", "yaml not utf-8"): "is not UTF-8 text",
    ("grpo", "yaml malformed"): "is not valid YAML",
    ("grpo", "yaml nan lambda"): "lambda_div must be a number",
    ("grpo", "lambda nan"): "lambda_div must be a number from 0.0 to 100.0, got nan",
    ("grpo", "lr nan"): "learning_rate must be a number",
    ("grpo", "nothing to resume"): "nothing to resume",
    ("sft", "nothing to resume"): "nothing to resume",
    ("study", "status typo db"): "No study database at",
    ("study", "status db folder"): "is a folder",
    ("study", "status db not sqlite"): "is not a study database",
    ("study", "surrogate argv"): "is not valid UTF-8",
    ("video", "prompts file deep 200000"): "nested too deeply",  # not "maximum recursion depth exceeded"
    ("video", "prompts file 5000 digits"): "a number has 5,000 digits",  # not "not JSON (ValueError)"
    ("video", "prompts file duplicate keys"): "the key 'prompts' appears twice",  # not the last one kept
    ("expand", "zero-width query"): "The prompt is empty",
    ("expand", "cache dir in /proc"): "Cannot use '/proc/dppgrpo-test'",  # not a traceback
}


def test_every_expected_line_names_a_case():
    ids = {(param.values[0], param.values[1]) for param in command_cases()}
    assert set(EXPECTED) <= ids


def test_the_base_prompt_limit_is_counted_not_written_down(capsys):
    from training.build_data import main

    assert main(["--n-base", "1000000000", "--out", "unused"]) == 2
    assert f"at most {_max_base_prompts()} base prompts" in capsys.readouterr().err
    assert _max_base_prompts() == "14,160"


def command_cases():
    cases = []
    for name in _study_cases(Path("R"), Path("D")):
        cases.append(pytest.param("study", name, id=f"study-{name}"))
    for name in _video_cases(Path("R"), {k: Path("P") for k in _all_path_keys()}):
        cases.append(pytest.param("video", name, id=f"video-{name}"))
    for name in _build_data_cases(Path("R")):
        cases.append(pytest.param("build_data", name, id=f"build_data-{name}"))
    for name in _training_cases(Path("R"), {k: Path("P") for k in _all_path_keys()}):
        cases.append(pytest.param("grpo", name, id=f"grpo-{name}"))
    for name in ("yaml not utf-8", "lr nan", "nothing to resume", "resume from nowhere"):
        cases.append(pytest.param("sft", name, id=f"sft-{name}"))
    for name in _app_cases():
        cases.append(pytest.param("app", name, id=f"app-{name}"))
    for name in _expand_cases():
        cases.append(pytest.param("expand", name, id=f"expand-{name}"))
    return cases


def _all_path_keys():
    names = ["not json", "nan", "deep", "not utf-8", "empty", "surrogate", "control", "huge", "numbers", "object",
             "deep 200000", "5000 digits", "duplicate keys", "zero-width"]
    yaml = ["not utf-8", "malformed", "a list", "deep", "unknown", "nan lambda", "inf lr", "html", "huge", "python tag"]
    return [f"prompts {n}" for n in names] + [f"yaml {n}" for n in yaml]


@pytest.mark.parametrize("command, case", command_cases())
def test_a_command_answers_bad_input_with_one_error_line_and_status_2(app, bad_files, capsys, command, case):
    root, paths = bad_files
    if command == "study":
        from dppgrpo_core.study.command import main

        argv = _study_cases(root, app["db"])[case]
    elif command == "video":
        from dppgrpo_core.video.command import main

        argv = _video_cases(root, paths)[case]
    elif command == "build_data":
        from training.build_data import main

        argv = _build_data_cases(root)[case]
    elif command in ("grpo", "sft"):
        from dppgrpo_core.cli import run_main
        from training import grpo, sft

        def main(argv, module=grpo if command == "grpo" else sft):
            return run_main(module.main, argv)

        argv = _training_cases(root, paths)[case]
    elif command == "app":
        from app import main

        argv = _app_cases()[case]
    else:
        from dppgrpo_core.expand.command import main

        argv = _expand_cases()[case]
    assert main(argv) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert EXPECTED.get((command, case), "") in line
    assert db_dump(app["db"]) == app["dump"]
    assert not (root / "videos").exists() and not (root / "dataset").exists()  # refused before any work:
    assert not (root / "cache").exists()  # no video rendered (then found the --out it cannot write)
    assert not (root / "typo").exists() and not (root / "train-out").exists()


@pytest.mark.parametrize("argv", [
    [b"-m", b"dppgrpo_core.study", b"import", b"\xff.jsonl"],
    [b"-m", b"dppgrpo_core.video", b"--prompts-file", b"\xff", b"--out", b"v"],
], ids=["study", "video"])
def test_real_processes_print_one_line_for_argv_that_is_not_utf8(argv, tmp_path):
    done = subprocess.run([sys.executable.encode(), *argv], capture_output=True, cwd=REPO, timeout=120)
    assert done.returncode == 2
    err = done.stderr.decode("utf-8")
    assert err.startswith("error:") and err.count("\n") == 1, err


def test_the_app_answers_valid_requests_after_all_of_that(app):
    kind, defaults = call(app, "/model_defaults", ["tiny-random-wan"])
    assert kind == "complete" and defaults == [2, 9, 6.0, 16, 16, 8]
    kind, view = call(app, "/start", ["probe"])
    assert kind == "complete" and "Signed in as **probe**" in view[1]
    assert db_dump(app["db"]) == app["dump"]  # nothing stored changed: no item, rating or annotator added


# ----- issue 23: files that are not files, and JSON the app cannot read -----
def _memory_limit():  # a command that reads /dev/zero to the end stops at 3 GB instead of taking the machine
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "/proc/self/status"])
@pytest.mark.parametrize("command", ["study import", "video"])
def test_an_unreadable_input_is_one_line_within_seconds(tmp_path, command, source):
    import os
    import time

    if source == "fifo":
        source = str(tmp_path / "fifo")
        os.mkfifo(source)  # nothing ever writes to it: opening it for reading would wait forever
    argv = (["-m", "dppgrpo_core.study", "import", source, "--db", str(tmp_path / "s.db")] if command == "study import"
            else ["-m", "dppgrpo_core.video", "--prompts-file", source, "--out", str(tmp_path / "v")])
    start = time.monotonic()
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=REPO, timeout=60,
                          preexec_fn=_memory_limit)
    assert done.returncode == 2 and one_error_line(done.stderr) and time.monotonic() - start < 30
    assert not (tmp_path / "s.db").exists() and not (tmp_path / "v").exists()


@pytest.mark.parametrize("content, message", [
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"), ('{"k": ' + "9" * 5000 + "}", "a number has 5,000 digits"),
    ('{"query": "a dog", "query": "a cat"}', "the key 'query' appears twice"), ("[1e999]", "too large a number"),
])
def test_a_set_file_upload_names_what_is_wrong_with_its_json(content, message):
    import gradio as gr
    from gradio.utils import get_upload_folder

    from pages.expand_sets import read_set_file

    folder = Path(get_upload_folder()) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    (folder / "set.json").write_text(content)
    with pytest.raises(gr.Error, match=message) as refused:
        read_set_file(str(folder / "set.json"))
    assert "\n" not in refused.value.message and "ValueError" not in refused.value.message


def test_a_number_out_of_range_or_not_whole_is_refused_without_a_traceback():
    import gradio as gr

    from pages.fields import Number, Slider

    for field, value, message in [(Number(4, label="steps", precision=0, minimum=1), 0, "steps must be at least 1"),
                                  (Number(16, label="height", precision=0, minimum=16), 3.5, "height must be at least"),
                                  (Number(0, label="Seed", precision=0, minimum=0), 3.5, "Seed must be a whole number"),
                                  (Slider(1, 20, value=6, step=1, label="K"), 21, "K must be from 1 to 20")]:
        with pytest.raises(gr.Error, match=message) as refused:
            field.preprocess(value)
        assert refused.value.print_exception is False  # gradio's own refusal printed a traceback in the server log
