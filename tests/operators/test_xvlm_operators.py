"""verify_property, best_text_match and best_image_match: X-VLM scoring with a fake session."""

from __future__ import annotations

import numpy as np
import pytest

from dicec.builtin_operators import _xvlm

XVLM_INPUTS = [("pixel_values", "tensor(float)"), ("input_ids", "tensor(int64)"), ("attention_mask", "tensor(int64)")]


class Tokenizer:
    def __init__(self):
        self.seen: list[list[str]] = []

    def __call__(self, texts):
        self.seen.append(list(texts))
        length = max(len(t.split()) for t in texts) + 2
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, t in enumerate(texts):
            n = len(t.split()) + 2
            ids[i, :n] = 7
            mask[i, :n] = 1
        return ids, mask


def xvlm_session(fake_session, logits_for):
    """``logits_for(n_images, texts) -> (n_images, n_texts)``; texts are recovered from the tokenizer."""
    tok = Tokenizer()

    def respond(feeds):
        n = feeds["pixel_values"].shape[0]
        return [np.asarray(logits_for(n, tok.seen[-1]), dtype=np.float32)]

    return fake_session(XVLM_INPUTS, respond), tok


def test_clean_caption_matches_vipergpt_rules():
    assert _xvlm.clean_caption("  Light-Blue, shirt/dress!  ") == "light blue shirt dress"
    assert _xvlm.clean_caption("a  b") == "a b"
    assert _xvlm.clean_caption(" ".join(["w"] * 40)).count("w") == 30
    with pytest.raises(ValueError, match="empty"):
        _xvlm.clean_caption("?!")


def test_preprocess_is_384_square_with_clip_normalisation(rgb):
    x = _xvlm.preprocess([rgb(100, 50), np.full((30, 60, 3), 255, np.uint8)])
    assert x.shape == (2, 3, 384, 384) and x.dtype == np.float32
    np.testing.assert_allclose(x[1, :, 5, 5], (1 - np.array(_xvlm.CLIP_MEAN)) / np.array(_xvlm.CLIP_STD), atol=1e-4)


def test_binary_score_is_the_mean_pairwise_softmax():
    assert _xvlm.binary_score([0.3, 0.3, 0.3]) == pytest.approx(0.5)
    s = _xvlm.binary_score([0.31, 0.30, 0.32])      # x100: +1 against one, -1 against the other
    assert s == pytest.approx((1 / (1 + np.exp(-1)) + 1 / (1 + np.exp(1))) / 2)
    with pytest.raises(ValueError):
        _xvlm.binary_score([0.3])


def test_verify_property_compares_the_property_with_negative_attributes(load_operator, fake_session, rgb):
    Verify = load_operator("verify_property").Operator

    def positive_wins(n, texts):
        return [[0.35] + [0.25] * (len(texts) - 1)]

    session, tok = xvlm_session(fake_session, positive_wins)
    op = Verify(session, tokenize=tok, negatives=["red", "blue", "green"])
    assert op(rgb(20, 30), "letters", "blue") is True
    assert tok.seen[-1] == ["blue letters", "red letters", "green letters"]   # the property is not its own negative
    assert session.calls[0]["feeds"]["pixel_values"].shape == (1, 3, 384, 384)

    session, tok = xvlm_session(fake_session, lambda n, texts: [[0.25] + [0.35] * (len(texts) - 1)])
    assert Verify(session, tokenize=tok)(rgb(20, 30), "letters", "blue") is False


def test_verify_property_threshold_is_strict(load_operator, fake_session, rgb):
    Verify = load_operator("verify_property").Operator
    # score 0.6 exactly: sigmoid(d) = 0.6  ->  d = ln(1.5) / 100 between positive and every negative
    d = np.log(1.5) / 100
    session, tok = xvlm_session(fake_session, lambda n, texts: [[0.3 + d] + [0.3] * (len(texts) - 1)])
    op = Verify(session, tokenize=tok, negatives=["red"])
    assert op.score(rgb(8, 8), "car", "blue") == pytest.approx(0.6)
    assert Verify(session, tokenize=tok, negatives=["red"], threshold=0.59)(rgb(8, 8), "car", "blue") is True
    d2 = np.log(1.4) / 100
    session, tok = xvlm_session(fake_session, lambda n, texts: [[0.3 + d2, 0.3]])
    assert Verify(session, tokenize=tok, negatives=["red"])(rgb(8, 8), "car", "blue") is False


def test_best_text_match_takes_the_argmax_and_applies_the_prefix(load_operator, fake_session, rgb):
    Match = load_operator("best_text_match").Operator
    session, tok = xvlm_session(fake_session, lambda n, texts: [[0.1, 0.5, 0.3]])
    op = Match(session, tokenize=tok)
    assert op(rgb(10, 10), ["Red", "Blue", "green"]) == "Blue"
    assert op(rgb(10, 10), ["red", "blue", "green"], "shirt colour") == "blue"
    assert tok.seen[-1] == ["shirt colour red", "shirt colour blue", "shirt colour green"]
    probs = op.probabilities(rgb(10, 10), ["red", "blue", "green"])
    assert probs.argmax() == 1 and probs.sum() == pytest.approx(1.0)


def test_best_text_match_ties_go_to_the_first_option_and_empty_is_an_error(load_operator, fake_session, rgb):
    Match = load_operator("best_text_match").Operator
    session, tok = xvlm_session(fake_session, lambda n, texts: [[0.4, 0.4]])
    op = Match(session, tokenize=tok)
    assert op(rgb(10, 10), ["gold", "white"]) == "gold"
    with pytest.raises(ValueError, match="non-empty"):
        op(rgb(10, 10), [])


def test_best_image_match_averages_over_content_then_takes_the_argmax(load_operator, fake_session, rgb):
    BestImage = load_operator("best_image_match").Operator
    scores = np.array([[0.9, 0.0],      # mean 0.45
                       [0.5, 0.5],      # mean 0.50  <- best on average
                       [0.1, 0.8]])     # mean 0.45
    session, tok = xvlm_session(fake_session, lambda n, texts: scores[:n, :len(texts)])
    op = BestImage(session, tokenize=tok)
    patches = [rgb(10, 10, s) for s in range(3)]
    boxes = [{"left": i, "lower": 0, "right": i + 5, "upper": 5} for i in range(3)]
    assert op(patches, ["black vest", "tie"], return_index=True) == 1
    assert op(patches, ["black vest", "tie"], boxes=boxes) == boxes[1]
    assert op(patches, ["black vest", "tie"]) == 1               # no boxes: the index
    assert session.calls[0]["feeds"]["pixel_values"].shape == (3, 3, 384, 384)
    assert op(patches, "black vest", return_index=True) == 0     # a plain string is one text
    assert tok.seen[-1] == ["black vest"]
    assert op([], ["tie"]) is None


def test_xvlm_operators_need_a_tokenizer(load_operator, fake_session, rgb):
    op = load_operator("best_text_match").Operator(fake_session(XVLM_INPUTS, lambda f: []))
    with pytest.raises(RuntimeError, match="tokenize"):
        op(rgb(4, 4), ["a", "b"])
