"""The ``onnx`` backend end to end: tiny ONNX models with the production signatures, run by onnxruntime.

Each test copies a built-in operator folder (spec.yaml + operator.py), points its ``model.file`` at a
tiny graph built here with onnx.helper (same input/output names, dtypes and ranks as the operator's
contract; outputs computed from the inputs), adds a deterministic ``tokenizer.py`` where the operator
needs one, and runs ``dicec op`` / ``dicec exec`` / ``dicec run`` with ``--models onnx --operators DIR``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from dicec.cli import cli as main  # noqa: E402
from dicec.runtime.contract import b64  # noqa: E402
from dicec.runtime.images import encode_png  # noqa: E402
from dicec.tools.registry import builtin_folder  # noqa: E402

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

# -- tiny models --------------------------------------------------------------------------------------
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
           "orange": (255, 165, 0), "purple": (128, 0, 128), "black": (0, 0, 0), "white": (255, 255, 255)}
WORDS = {w: i + 1 for i, w in enumerate(COLOURS)}           # id 0: any other word
CLIP_MEAN = np.array((0.48145466, 0.4578275, 0.40821073))
CLIP_STD = np.array((0.26862954, 0.26130258, 0.27577711))


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="dicec-test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def _const(name, array, dtype=TensorProto.FLOAT):
    a = np.asarray(array)
    return helper.make_tensor(name, dtype, list(a.shape), a.ravel().tolist())


def glip_model(path: Path, boxes: np.ndarray, target_id: int) -> Path:
    """pixel_values (1,3,H,W), input_ids/attention_mask (1,L) -> boxes (1,Q,4) constant, scores (1,Q):
    0.9 for each query when the caption holds ``target_id`` and the image is not dark, else 0."""
    q = boxes.shape[1]
    nodes = [
        helper.make_node("Identity", ["box_table"], ["boxes"]),
        helper.make_node("Equal", ["input_ids", "target"], ["hit"]),
        helper.make_node("Cast", ["hit"], ["hit_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMax", ["hit_f"], ["caption_gate"], keepdims=0),
        helper.make_node("ReduceMean", ["pixel_values"], ["brightness"], keepdims=0),
        helper.make_node("Greater", ["brightness", "dark"], ["lit"]),
        helper.make_node("Cast", ["lit"], ["image_gate"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["caption_gate", "image_gate"], ["gate"]),
        helper.make_node("Mul", ["base", "gate"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_glip",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, "H", "W"]),
         helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "L"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, "L"])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, q, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, q])],
        initializer=[_const("box_table", boxes), _const("target", [target_id], TensorProto.INT64),
                     _const("dark", -1.5), _const("base", np.full((1, q), 0.9))])
    return _save(graph, path)


def xvlm_model(path: Path) -> Path:
    """pixel_values (N,3,384,384), input_ids/attention_mask (T,L) -> logits (N,T): cosine similarity of
    the image's mean (normalised) colour and the mean embedding of the text's colour words."""
    emb = np.zeros((len(WORDS) + 1, 3))
    for w, i in WORDS.items():
        emb[i] = (np.array(COLOURS[w]) / 255.0 - CLIP_MEAN) / CLIP_STD
    nodes = [
        helper.make_node("ReduceMean", ["pixel_values"], ["img"], axes=[2, 3], keepdims=0),        # (N,3)
        helper.make_node("Gather", ["emb", "input_ids"], ["tok"], axis=0),                          # (T,L,3)
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["m", "two"], ["m3"]),
        helper.make_node("Mul", ["tok", "m3"], ["tok_m"]),
        helper.make_node("ReduceSum", ["tok_m", "one"], ["txt"], keepdims=0),                       # (T,3)
        helper.make_node("LpNormalization", ["img"], ["img_n"], axis=1, p=2),
        helper.make_node("LpNormalization", ["txt"], ["txt_n"], axis=1, p=2),
        helper.make_node("Transpose", ["txt_n"], ["txt_t"], perm=[1, 0]),
        helper.make_node("MatMul", ["img_n", "txt_t"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_xvlm",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["N", 3, 384, 384]),
         helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["T", "L"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["T", "L"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", "T"])],
        initializer=[_const("emb", emb), _const("two", [2], TensorProto.INT64), _const("one", [1], TensorProto.INT64)])
    return _save(graph, path)


def dpt_model(path: Path) -> Path:
    """pixel_values (1,3,H,W) -> predicted_depth (1,H,W) = channel mean + 2 (relative inverse depth)."""
    nodes = [helper.make_node("ReduceMean", ["pixel_values"], ["mean"], axes=[1], keepdims=0),
             helper.make_node("Add", ["mean", "two"], ["predicted_depth"])]
    graph = helper.make_graph(
        nodes, "tiny_dpt", [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info("predicted_depth", TensorProto.FLOAT, [1, "H", "W"])],
        initializer=[_const("two", 2.0)])
    return _save(graph, path)


def blip_model(path: Path) -> Path:
    """A generation graph: pixel_values, input_ids, attention_mask, max_length, num_beams -> sequences
    int32 (1,1,1): token 10 + the index of the image's strongest channel (R, G, B)."""
    nodes = [helper.make_node("ReduceMean", ["pixel_values"], ["chan"], axes=[0, 2, 3], keepdims=0),  # (3,)
             helper.make_node("ArgMax", ["chan"], ["arg"], axis=0, keepdims=1),                       # (1,)
             helper.make_node("Add", ["arg", "ten"], ["tok"]),
             helper.make_node("Reshape", ["tok", "shape"], ["tok3"]),
             helper.make_node("Cast", ["tok3"], ["sequences"], to=TensorProto.INT32)]
    graph = helper.make_graph(
        nodes, "tiny_blip2",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, 224, 224]),
         helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "L"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, "L"]),
         helper.make_tensor_value_info("max_length", TensorProto.INT32, [1]),
         helper.make_tensor_value_info("num_beams", TensorProto.INT32, [1])],
        [helper.make_tensor_value_info("sequences", TensorProto.INT32, [1, 1, 1])],
        initializer=[_const("ten", [10], TensorProto.INT64), _const("shape", [1, 1, 1], TensorProto.INT64)])
    return _save(graph, path)


def llm_model(path: Path) -> Path:
    """input_ids/attention_mask (1,L), max_length -> sequences int32 (1,1,L+1): the prompt, then a token
    equal to the prompt's length (as a decoder-only BeamSearch graph echoes its prompt)."""
    nodes = [helper.make_node("ReduceSum", ["attention_mask"], ["n"], keepdims=1),                   # (1,1)
             helper.make_node("Concat", ["input_ids", "n"], ["seq"], axis=1),
             helper.make_node("Unsqueeze", ["seq", "zero"], ["seq3"]),
             helper.make_node("Cast", ["seq3"], ["sequences"], to=TensorProto.INT32)]
    graph = helper.make_graph(
        nodes, "tiny_llm",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "L"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, "L"]),
         helper.make_tensor_value_info("max_length", TensorProto.INT32, [1])],
        [helper.make_tensor_value_info("sequences", TensorProto.INT32, [1, 1, "S"])],
        initializer=[_const("zero", [0], TensorProto.INT64)])
    return _save(graph, path)


# -- tokenisers (the seam: tokenizer.py in the operator's folder) --------------------------------------
TOKENIZER = '''
import numpy as np

WORDS = {words!r}


def word_id(w):
    return WORDS.get(w, 0) if {colour_ids} else 1000 + sum(map(ord, w)) % 997


def _one(text):
    return [word_id(w) for w in text.lower().split()] or [0]


def load(model_path):
    assert model_path.is_file()

    def tokenize(text):
        if isinstance(text, list):
            rows = [_one(t) for t in text]
            width = max(map(len, rows))
            ids = np.array([r + [0] * (width - len(r)) for r in rows], dtype=np.int64)
            mask = np.array([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=np.int64)
            return ids, mask
        ids = np.array(_one(text), dtype=np.int64)
        return ids, np.ones_like(ids)

    def detokenize(ids):
        names = {{10: "red", 11: "green", 12: "blue"}}
        return " ".join(names.get(int(i), f"{{int(i)}} tokens") for i in ids)

    return {{"tokenize": tokenize, "detokenize": detokenize}}
'''


def tokenizer_source(colour_ids: bool) -> str:
    return TOKENIZER.format(words=WORDS, colour_ids=colour_ids)


def caption_id(word: str) -> int:
    return 1000 + sum(map(ord, word)) % 997


def operator_dir(root: Path, name: str, model: Path, *, tokenizer: str | None = None, sha256: str | None = "auto",
                 file: str | None = None) -> Path:
    """A copy of the built-in operator folder ``name`` under ``root`` with its model pointed at ``model``."""
    src = builtin_folder() / name
    dst = root / name
    dst.mkdir(parents=True, exist_ok=True)
    text = (src / "spec.yaml").read_text()
    text = re.sub(r"^(\s+)sha256: .*\n", "", text, flags=re.M)
    pin = hashlib.sha256(model.read_bytes()).hexdigest() if sha256 == "auto" and model.is_file() else sha256
    line = f"  file: {file or str(model)}\n" + (f"  sha256: \"{pin}\"\n" if pin else "")
    text = re.sub(r"^  file: .*\n", line, text, flags=re.M)
    (dst / "spec.yaml").write_text(text)
    (dst / "operator.py").write_text((src / "operator.py").read_text())
    if tokenizer is not None:
        (dst / "tokenizer.py").write_text(tokenizer)
    return root


# -- images and running ---------------------------------------------------------------------------------
def png(path: Path, pixels: np.ndarray) -> Path:
    path.write_bytes(encode_png(np.ascontiguousarray(pixels, dtype=np.uint8)))
    return path


def halves(h: int = 100, w: int = 200, left=(255, 0, 0), right=(0, 0, 255)) -> np.ndarray:
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[:, : w // 2] = left
    img[:, w // 2:] = right
    return img


def first_json(text: str):
    """The JSON object printed on stdout (log lines on stderr may be mixed in)."""
    return json.JSONDecoder().raw_decode(text[text.index("{"):])[0]


def run_cli(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def op_value(tmp: Path, name: str, image: Path, ops: Path, args: list, *, patch: str = '"image"', form: str = "method"):
    call = b64(json.dumps({"task": "t1", "operator": name, "form": form,
                           "args": [{"literal": a} for a in args]}, sort_keys=True))
    value, record = tmp / "out" / "value.json", tmp / "out" / "record.json"
    result = run_cli(["op", name, "--image", str(image), "--call", call, "--patch", patch, "--value-out", str(value),
                      "--record-out", str(record), "--models", "onnx", "--operators", str(ops)])
    assert result.exit_code == 0, result.output
    return json.loads(value.read_text()), json.loads(record.read_text()), result.output


def exec_json(tmp: Path, program: str, image: Path, ops: Path, models: str = "onnx") -> dict:
    prog = tmp / "prog.py"
    prog.write_text(program)
    result = run_cli(["exec", str(prog), "--image", str(image), "--models", models, "--operators", str(ops),
                      "--format", "json"])
    assert result.exit_code == 0, result.output
    return first_json(result.output)


# -- GLIP: find / exists ---------------------------------------------------------------------------------
@pytest.fixture
def glip(tmp_path):
    from dicec.builtin_operators import _glip

    h, w = 100, 200
    prep = _glip.preprocess(np.zeros((h, w, 3), dtype=np.uint8))
    pad_h, pad_w = prep.pixel_values.shape[-2:]
    x0, y0, x1, y1 = 50 * prep.scale_x, 20 * prep.scale_y, 150 * prep.scale_x, 60 * prep.scale_y
    boxes = np.array([[[(x0 + x1) / 2 / pad_w, (y0 + y1) / 2 / pad_h, (x1 - x0) / pad_w, (y1 - y0) / pad_h]]])
    model = glip_model(tmp_path / "glip.onnx", boxes, caption_id("car"))
    ops = tmp_path / "ops"
    for name in ("find", "exists"):
        operator_dir(ops, name, model, tokenizer=tokenizer_source(colour_ids=False))
    bright = png(tmp_path / "bright.png", np.full((h, w, 3), 200, dtype=np.uint8))
    dark = png(tmp_path / "dark.png", np.zeros((h, w, 3), dtype=np.uint8))
    return {"ops": ops, "bright": bright, "dark": dark, "model": model}


def test_find_returns_the_box_in_the_right_place(glip, tmp_path, monkeypatch):
    monkeypatch.setenv("DICEC_VERBOSITY", "1")  # the provider line is said when verbose (dicec -v)
    value, record, log = op_value(tmp_path, "find", glip["bright"], glip["ops"], ["car"])
    # top-left (50, 20)-(150, 60) in a 100-high image -> bottom-left origin lower 40, upper 80,
    # then ViperGPT's crop margin of 10 pixels on each side
    assert value == [{"left": 40, "lower": 30, "right": 160, "upper": 90}]
    assert record["value"] == value and "error" not in record
    assert re.search(r"onnxruntime: find \(GLIP-L\) runs on (CPU|CUDA)", log)  # CUDA where a GPU is usable
    assert op_value(tmp_path, "find", glip["bright"], glip["ops"], ["dog"])[0] == []     # caption gate
    assert op_value(tmp_path, "find", glip["dark"], glip["ops"], ["car"])[0] == []       # image gate


def test_exists_and_find_through_exec_and_run(glip, tmp_path):
    program = '''def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    return [image_patch.exists("car"), image_patch.exists("dog"), len(cars), cars[0].left if cars else None]
'''
    assert exec_json(tmp_path, program, glip["bright"], glip["ops"])["answer"] == [True, False, 1, 40]

    from dicec.pipeline import compile_text
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for

    wf = tmp_path / "wf.yaml"
    wf.write_text(compile_text(program, "program", path="prog.py", registry=registry_for((str(glip["ops"]),)),
                               catalogue=load_pools()).yaml)
    result = run_cli(["run", str(wf), "-p", f"image={glip['bright']}", "--models", "onnx", "--operators",
                      str(glip["ops"]), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert first_json(result.output)["answer"] == [True, False, 1, 40]


def test_one_session_per_model_per_process(glip, tmp_path):
    from dicec.runtime import models

    before = {k for k in models._SESSIONS if k[0] == str(glip["model"])}
    op_value(tmp_path, "find", glip["bright"], glip["ops"], ["car"])
    op_value(tmp_path, "exists", glip["bright"], glip["ops"], ["car"])
    op_value(tmp_path, "find", glip["dark"], glip["ops"], ["car"])
    after = [k for k in models._SESSIONS if k[0] == str(glip["model"])]
    assert len(after) == 1 and not before


# -- X-VLM: verify_property / best_text_match / best_image_match ------------------------------------------
@pytest.fixture
def xvlm(tmp_path):
    model = xvlm_model(tmp_path / "xvlm.onnx")
    ops = tmp_path / "ops"
    for name in ("verify_property", "best_text_match", "best_image_match"):
        operator_dir(ops, name, model, tokenizer=tokenizer_source(colour_ids=True))
    return {"ops": ops, "image": png(tmp_path / "halves.png", halves())}


def test_xvlm_operators_end_to_end(xvlm, tmp_path):
    program = '''def execute_command(image):
    image_patch = ImagePatch(image)
    left = image_patch.crop(0, 0, 100, 100)
    right = image_patch.crop(100, 0, 200, 100)
    return [left.verify_property("car", "red"), left.verify_property("car", "blue"),
            right.best_text_match(["red car", "blue car", "green car"]),
            best_image_match([left, right], ["blue"], return_index=True),
            best_image_match([left, right], ["red"]).left]
'''
    assert exec_json(tmp_path, program, xvlm["image"], xvlm["ops"])["answer"] == [True, False, "blue car", 1, 0]


# -- DPT: compute_depth ---------------------------------------------------------------------------------
def test_compute_depth_reads_one_map_of_the_whole_image(tmp_path):
    model = dpt_model(tmp_path / "dpt.onnx")
    ops = operator_dir(tmp_path / "ops", "compute_depth", model)
    image = png(tmp_path / "bw.png", halves(96, 192, left=(255, 255, 255), right=(0, 0, 0)))
    box = {"left": 0, "lower": 0, "right": 96, "upper": 96}
    near, _, _ = op_value(tmp_path, "compute_depth", image, ops, [], patch=json.dumps(box))
    far, _, _ = op_value(tmp_path, "compute_depth", image, ops, [], patch=json.dumps({**box, "left": 96, "right": 192}))
    # white normalises to +1 (inverse depth 3, depth 1/3), black to -1 (inverse depth 1, depth 1)
    assert near == pytest.approx(1 / 3, abs=0.01) and far == pytest.approx(1.0, abs=0.01)


# -- BLIP-2 simple_query and the LLM: generation graphs ----------------------------------------------------
def test_simple_query_and_llm_query_through_generation_graphs(tmp_path):
    ops = tmp_path / "ops"
    operator_dir(ops, "simple_query", blip_model(tmp_path / "blip.onnx"), tokenizer=tokenizer_source(colour_ids=False))
    operator_dir(ops, "llm_query", llm_model(tmp_path / "llm.onnx"), tokenizer=tokenizer_source(colour_ids=False))
    program = '''def execute_command(image):
    image_patch = ImagePatch(image)
    left = image_patch.crop(0, 0, 100, 100)
    right = image_patch.crop(100, 0, 200, 100)
    return [left.simple_query("What color is it?"), right.simple_query("What color is it?"),
            llm_query("How many?", long_answer=False)]
'''
    answer = exec_json(tmp_path, program, png(tmp_path / "rg.png", halves(right=(0, 255, 0))), ops)["answer"]
    assert answer[:2] == ["red", "green"]
    assert re.fullmatch(r"\d+ tokens", answer[2])


# -- set-up errors: one line, exit 1, nothing written -------------------------------------------------------
def _op_fails(tmp: Path, ops: Path, image: Path) -> tuple[int, str, Path]:
    call = b64(json.dumps({"task": "t1", "operator": "compute_depth", "form": "method", "args": []}))
    out = tmp / "fail"
    result = CliRunner().invoke(main, ["op", "compute_depth", "--image", str(image), "--call", call,
                                       "--value-out", str(out / "v.json"), "--record-out", str(out / "r.json"),
                                       "--models", "onnx", "--operators", str(ops)])
    return result.exit_code, result.output, out


@pytest.mark.parametrize("case", ["missing", "checksum", "scheme", "corrupt"])
def test_model_setup_errors_are_one_line(tmp_path, case):
    model = dpt_model(tmp_path / "dpt.onnx")
    image = png(tmp_path / "i.png", halves())
    if case == "missing":
        ops = operator_dir(tmp_path / "ops", "compute_depth", tmp_path / "nope.onnx", sha256=None)
        expect = "model file for compute_depth (DPT-Large (MiDaS v3)) not found"
    elif case == "checksum":
        ops = operator_dir(tmp_path / "ops", "compute_depth", model, sha256="0" * 64)
        expect = "fails its checksum"
    elif case == "scheme":
        ops = operator_dir(tmp_path / "ops", "compute_depth", model, file="s3://bucket/dpt.onnx")
        expect = "model location scheme 's3' is not supported here"
    else:
        bad = tmp_path / "bad.onnx"
        bad.write_bytes(b"not a model")
        ops = operator_dir(tmp_path / "ops", "compute_depth", bad)
        expect = "cannot be loaded"
    code, output, out = _op_fails(tmp_path, ops, image)
    assert code == 1, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in output, output
    assert not out.exists()


def test_file_uri_and_relative_model_paths(tmp_path):
    (tmp_path / "ops" / "compute_depth").mkdir(parents=True)
    model = dpt_model(tmp_path / "ops" / "compute_depth" / "dpt.onnx")
    image = png(tmp_path / "i.png", halves(96, 192, left=(255, 255, 255), right=(255, 255, 255)))
    ops = operator_dir(tmp_path / "ops", "compute_depth", model, file="dpt.onnx")       # relative: the folder
    assert op_value(tmp_path, "compute_depth", image, ops, [])[0] == pytest.approx(1 / 3, abs=0.01)
    ops2 = operator_dir(tmp_path / "ops2", "compute_depth", model, file=model.as_uri())
    assert op_value(tmp_path, "compute_depth", image, ops2, [])[0] == pytest.approx(1 / 3, abs=0.01)


def test_missing_tokeniser_is_a_setup_error_naming_the_seam(tmp_path):
    model = glip_model(tmp_path / "glip.onnx", np.zeros((1, 1, 4)), 1)
    ops = operator_dir(tmp_path / "ops", "find", model)
    call = b64(json.dumps({"task": "t1", "operator": "find", "form": "method", "args": [{"literal": "car"}]}))
    result = CliRunner().invoke(main, ["op", "find", "--image", str(png(tmp_path / "i.png", halves())), "--call", call,
                                       "--value-out", str(tmp_path / "v.json"), "--record-out", str(tmp_path / "r.json"),
                                       "--models", "onnx", "--operators", str(ops)])
    assert result.exit_code == 1 and "needs a tokeniser: add tokenizer.py" in result.output
    assert not (tmp_path / "v.json").exists()


def test_builtin_backend_turns_an_unavailable_model_into_an_error_of_that_call(tmp_path):
    """Under builtin, steps are speculative: llm_query without its model is an error of that call only."""
    program = '''def execute_command(image):
    image_patch = ImagePatch(image)
    if image_patch.exists("red circle"):
        return "circle"
    return llm_query("What is this?")
'''
    ops = operator_dir(tmp_path / "ops", "llm_query", tmp_path / "absent.onnx", sha256=None)
    img = np.full((64, 64, 3), 128, dtype=np.uint8)
    img[20:44, 20:44] = (220, 30, 30)
    yy, xx = np.mgrid[:64, :64]
    img[(yy - 32) ** 2 + (xx - 32) ** 2 > 144] = 128
    assert exec_json(tmp_path, program, png(tmp_path / "c.png", img), ops, models="builtin")["answer"] == "circle"
