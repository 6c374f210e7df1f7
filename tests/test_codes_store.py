"""Code store: compact int16 memory-mapped codemaps + labels, validated on load, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from specinpaint.core import Codemaps, Conditioning
from specinpaint.core.errors import DataError
from specinpaint.data.code_store import CodeStore, CodeStoreWriter, collate_codes

SHAPES = {"top": (32, 4), "bottom": (64, 8)}
NUM_CODES = {"top": 512, "bottom": 512}


def random_codes(n: int, seed: int = 0) -> Codemaps:
    gen = torch.Generator().manual_seed(seed)
    return Codemaps({k: torch.randint(0, NUM_CODES[k], (n, *s), generator=gen) for k, s in SHAPES.items()})


def write_store(root, n=10, batch=4, names=True):
    codes = random_codes(n)
    pitch = torch.arange(n) + 40
    family = torch.arange(n) % 11
    with CodeStoreWriter(root, SHAPES, NUM_CODES, n, split="train", meta={"source": "test"}) as writer:
        for start in range(0, n, batch):
            part = codes.select(slice(start, start + batch))
            writer.append(part, pitch[start:start + batch], family[start:start + batch],
                          [f"note-{i}" for i in range(start, min(start + batch, n))] if names else None)
    return codes, pitch, family


def test_roundtrip_paper_shapes_int16_and_labels(tmp_path):
    codes, pitch, family = write_store(tmp_path / "store")
    store = CodeStore(tmp_path / "store")
    assert len(store) == 10 and store.split == "train" and store.meta["source"] == "test"
    assert store.shapes == SHAPES and store.num_codes == NUM_CODES
    assert store.codes("top").dtype == np.int16 and isinstance(store.codes("top"), np.memmap)
    # compact: 2 bytes per code (+ the .npy header)
    assert (tmp_path / "store/codes_bottom.npy").stat().st_size < 10 * 64 * 8 * 2 + 256
    maps, cond = store.batch([3, 0, 7])
    assert maps.equal(codes.select(torch.tensor([3, 0, 7])))
    assert cond.pitch.tolist() == [43, 40, 47] and cond.family.tolist() == [3, 0, 7]
    assert store.names[:2] == ["note-0", "note-1"]
    store.check_compatible(SHAPES, NUM_CODES)
    with pytest.raises(DataError, match="expects"):
        store.check_compatible({"top": (16, 4), "bottom": (64, 8)}, NUM_CODES)
    with pytest.raises(DataError, match="codes, the pipeline"):
        store.check_compatible(SHAPES, {"top": 256, "bottom": 512})


def test_torch_dataset_view_and_batched_loader(tmp_path):
    codes, pitch, family = write_store(tmp_path / "s")
    dataset = CodeStore(tmp_path / "s").dataset()
    item_codes, labels = dataset[5]
    assert torch.equal(item_codes["bottom"], codes["bottom"][5]) and labels == {"pitch": 45, "family": 5}
    loader = DataLoader(dataset, batch_size=4, collate_fn=collate_codes)
    batches = list(loader)
    assert all(isinstance(b[0], Codemaps) and isinstance(b[1], Conditioning) for b in batches)
    assert Codemaps.cat([b[0] for b in batches]).equal(codes)
    manual = collate_codes([dataset[i] for i in range(3)])  # the per-item path gives the same
    assert manual[0].equal(codes.select(slice(0, 3)))


def test_damaged_stores_are_refused_with_one_line_errors(tmp_path):
    write_store(tmp_path / "s")
    path = tmp_path / "s/codes_top.npy"
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(DataError, match="truncated or modified") as info:
        CodeStore(tmp_path / "s")
    assert "\n" not in str(info.value)
    flipped = bytearray(data)
    flipped[-1] ^= 1
    path.write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="checksum mismatch"):
        CodeStore(tmp_path / "s")
    CodeStore(tmp_path / "s", verify=False)  # size-only check passes: verification is what catches it
    (tmp_path / "s/pitch.npy").unlink()
    with pytest.raises(DataError, match="pitch.npy is missing"):
        CodeStore(tmp_path / "s", verify=False)
    with pytest.raises(DataError, match="not a code store"):
        CodeStore(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/index.json").write_text("{not json")
    with pytest.raises(DataError, match="unreadable code store index"):
        CodeStore(tmp_path / "bad")


def test_out_of_range_codes_in_a_store_are_detected(tmp_path):
    write_store(tmp_path / "s")
    index = json.loads((tmp_path / "s/index.json").read_text())
    index["num_codes"]["top"] = 4  # claims a smaller codebook than the codes use
    (tmp_path / "s/index.json").write_text(json.dumps(index))
    with pytest.raises(DataError, match="outside"):
        CodeStore(tmp_path / "s")


def test_writer_validates_batches_and_never_replaces_a_store_with_a_partial_one(tmp_path):
    codes, _, _ = write_store(tmp_path / "s")
    before = (tmp_path / "s/codes_top.npy").read_bytes()
    with pytest.raises(DataError, match="5 of the announced 10"):
        with CodeStoreWriter(tmp_path / "s", SHAPES, NUM_CODES, 10) as writer:
            writer.append(random_codes(5, seed=3), [40] * 5, [0] * 5)
    assert (tmp_path / "s/codes_top.npy").read_bytes() == before
    assert CodeStore(tmp_path / "s").batch([0])[0].equal(codes.select(0))
    writer = CodeStoreWriter(tmp_path / "t", SHAPES, NUM_CODES, 2)
    with pytest.raises(DataError, match="expected"):
        writer.append({"top": torch.zeros(2, 16, 4, dtype=torch.long), "bottom": torch.zeros(2, 64, 8)}, [1, 2], [0, 0])
    with pytest.raises(DataError, match="outside"):
        writer.append(random_codes(2).replace(top=torch.full((2, 32, 4), 512)), [1, 2], [0, 0])
    with pytest.raises(DataError, match="more than the announced"):
        writer.append(random_codes(3), [1, 2, 3], [0, 0, 0])
    writer.abort(None, None, None)
    assert not (tmp_path / "t").exists()
    large = CodeStoreWriter(tmp_path / "big", {"top": (2, 2)}, {"top": 40000}, 1)
    large.append({"top": torch.full((1, 2, 2), 39999)}, [60], [1])
    assert large.close().codes("top").dtype == np.int32  # codebooks beyond int16 get int32


def test_pitches_outside_the_conditioning_range_become_null(tmp_path):
    with CodeStoreWriter(tmp_path / "s", {"top": (2, 2)}, {"top": 8}, 2) as writer:
        writer.append({"top": torch.zeros(2, 2, 2, dtype=torch.long)}, [10, 60], [-1, 3])
    _, cond = CodeStore(tmp_path / "s").batch([0, 1])
    assert cond.pitch.tolist() == [-1, 60] and cond.family.tolist() == [-1, 3]
