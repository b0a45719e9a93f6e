"""The prompt shows every discovered operator, including a user's own, with no code change."""

from __future__ import annotations

from support import write_operator
from dicec.codegen.prompt import prompt_hash, render_prompt
from dicec.tools import discover


def test_prompt_lists_operators_and_user_operators(tmp_path, synthetic_dir):
    write_operator(tmp_path, "read_plate", [("method", "read_plate(region: str) -> str")], 2)
    reg = discover([synthetic_dir, tmp_path], builtin=False, entry_points=False)
    prompt = render_prompt(reg)
    assert "def read_plate(self, region: str) -> str:" in prompt
    assert "def find(self, object_name: str) -> list[ImagePatch]:" in prompt
    assert "def compute_depth(self) -> float:" in prompt
    assert "def best_image_match(list_patches: list, content: list, return_index: bool = False)" in prompt
    assert "test operator read_plate" in prompt
    assert render_prompt(reg) == prompt and len(prompt_hash(prompt)) == 64
