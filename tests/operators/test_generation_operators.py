"""simple_query (BLIP-2) and llm_query (Llama 3): prompts, generation feeds and answer clean-up."""

from __future__ import annotations

import numpy as np
import pytest

GEN_PARAMS = [("max_length", "tensor(int32)"), ("min_length", "tensor(int32)"), ("num_beams", "tensor(int32)"),
              ("num_return_sequences", "tensor(int32)"), ("length_penalty", "tensor(float)"),
              ("repetition_penalty", "tensor(float)")]


class Tok:
    """Word-level toy tokenizer: ids are positions in a growing vocabulary."""

    def __init__(self):
        self.vocab: dict[str, int] = {}
        self.texts: list[str] = []

    def encode(self, text):
        self.texts.append(text)
        ids = np.array([self.vocab.setdefault(w, len(self.vocab) + 10) for w in text.split(" ")], dtype=np.int64)
        return ids, np.ones_like(ids)

    def decode(self, ids):
        inv = {v: k for k, v in self.vocab.items()}
        return " ".join(inv.get(i, f"<{i}>") for i in ids)


def test_simple_query_question_clean_up_and_prompt(load_operator):
    mod = load_operator("simple_query")
    assert mod.clean_question("What COLOR is the (big) car?") == "what color is the big car?"
    assert mod.prompt_for("Is it red?") == "Question: is it red? Short answer:"
    assert len(mod.clean_question(" ".join(["x"] * 60)).split()) == 50
    with pytest.raises(ValueError):
        mod.clean_question("")


def test_simple_query_feeds_image_prompt_and_vipergpt_beam_settings(load_operator, fake_session, rgb):
    mod = load_operator("simple_query")
    tok = Tok()
    answer_ids = [int(tok.encode("red")[0][0])]

    session = fake_session([("pixel_values", "tensor(float)"), ("input_ids", "tensor(int32)"),
                            ("attention_mask", "tensor(int32)")] + GEN_PARAMS,
                           lambda feeds: [np.array([[answer_ids]], dtype=np.int32)])
    op = mod.Operator(session, tokenize=tok.encode, detokenize=lambda ids: "  " + tok.decode(ids) + " ")
    assert op(rgb(50, 70), "What color is the car?") == "red"
    feeds = session.calls[0]["feeds"]
    assert feeds["pixel_values"].shape == (1, 3, 224, 224) and feeds["pixel_values"].dtype == np.float32
    assert feeds["input_ids"].dtype == np.int32                    # cast to what the graph declares
    assert tok.texts[-1] == "Question: what color is the car? Short answer:"
    assert (feeds["num_beams"][0], feeds["max_length"][0], feeds["min_length"][0]) == (5, 10, 1)
    assert feeds["length_penalty"].dtype == np.float32 and feeds["length_penalty"][0] == -1.0


def test_simple_query_feeds_only_what_the_graph_declares(load_operator, fake_session, rgb):
    mod = load_operator("simple_query")
    session = fake_session([("pixel_values", "tensor(float)"), ("input_ids", "tensor(int64)"),
                            ("max_length", "tensor(int32)")], lambda feeds: [np.array([3, 4])])
    op = mod.Operator(session, tokenize=lambda t: (np.array([1, 2]), np.array([1, 1])), detokenize=lambda ids: str(ids))
    assert op(rgb(5, 5), "why?") == "[3, 4]"
    assert set(session.calls[0]["feeds"]) == {"pixel_values", "input_ids", "max_length"}


def llm_session(fake_session, answer: str, tok: Tok):
    def respond(feeds):
        prompt = feeds["input_ids"][0].tolist()
        extra = tok.encode(answer)[0].tolist()
        return [np.array([[prompt + extra]], dtype=np.int32)]

    return fake_session([("input_ids", "tensor(int32)"), ("attention_mask", "tensor(int32)")] + GEN_PARAMS, respond)


def test_llm_query_long_answer_strips_the_echoed_prompt(load_operator, fake_session):
    mod = load_operator("llm_query")
    tok = Tok()
    session = llm_session(fake_session, "Paris is the capital of France.", tok)
    op = mod.Operator(session, tokenize=tok.encode, detokenize=tok.decode)
    assert op(None, "What is the capital of France?") == "Paris is the capital of France."
    feeds = session.calls[0]["feeds"]
    assert feeds["max_length"][0] == feeds["input_ids"].shape[1] + 256 and feeds["num_beams"][0] == 1
    assert tok.texts[0].startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>")
    assert tok.texts[0].endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_llm_query_short_answer_is_cleaned_like_vipergpt(load_operator, fake_session):
    mod = load_operator("llm_query")
    assert mod.clean_short_answer(" The Eiffel Tower.\nIt is in Paris.") == "eiffel tower"
    assert mod.clean_short_answer("A dog, to be sure") == "dog be sure"
    tok = Tok()
    session = llm_session(fake_session, "The Louvre.", tok)
    op = mod.Operator(session, tokenize=tok.encode, detokenize=tok.decode)
    assert op(None, "Which museum holds {}?", "the Mona Lisa", False) == "louvre"
    assert "Which museum holds the Mona Lisa?" in tok.texts[0]
    assert "system" in tok.texts[0]                                     # the short-answer instruction
    feeds = session.calls[0]["feeds"]
    assert feeds["max_length"][0] == feeds["input_ids"].shape[1] + 5


def test_llm_query_method_form_bool_is_long_answer(load_operator, fake_session):
    mod = load_operator("llm_query")
    tok = Tok()
    session = llm_session(fake_session, "Eisenhower.", tok)
    op = mod.Operator(session, tokenize=tok.encode, detokenize=tok.decode)
    assert op(np.zeros((4, 4, 3), np.uint8), "Who was president in 1955?", False) == "eisenhower"
    assert "Context" not in tok.texts[0]
    assert mod.with_context("Who built it?", "the bridge") == "Who built it?\nContext: the bridge"


def test_generation_operators_need_their_tokenizers(load_operator, fake_session, rgb):
    session = fake_session([("input_ids", "tensor(int64)")], lambda f: [np.array([1])])
    with pytest.raises(RuntimeError, match="tokenize"):
        load_operator("llm_query").Operator(session)(None, "q")
    with pytest.raises(RuntimeError, match="tokenize"):
        load_operator("simple_query").Operator(session)(rgb(4, 4), "q")
