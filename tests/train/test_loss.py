"""The trainers' loss: cross-entropy on completion tokens only, equal to the full-logits loss."""

from __future__ import annotations

import pytest

pytest.importorskip("trl")


def _batch(processor, examples):
    """A TRL-style prompt/completion batch: prompts left-padded, completions appended."""
    import torch

    from vlmforge_hf.sft.trainer import to_rows

    rows = to_rows(processor, examples)
    prompts = processor(images=[r["images"] for r in rows], text=[r["prompt"] for r in rows],
                        padding=True, padding_side="left", return_tensors="pt",
                        add_special_tokens=False)  # fmt: skip
    completions = processor.tokenizer([r["completion"] for r in rows], padding=True,
                                      padding_side="right", return_tensors="pt",
                                      add_special_tokens=False)  # fmt: skip
    ids = torch.cat([prompts["input_ids"], completions["input_ids"]], dim=1)
    mask = torch.cat([prompts["attention_mask"], completions["attention_mask"]], dim=1)
    labels = ids.clone()
    labels[:, : prompts["input_ids"].shape[1]] = -100
    labels[mask == 0] = -100
    batch = dict(prompts)
    batch.update(input_ids=ids, attention_mask=mask, labels=labels)
    batch["mm_token_type_ids"] = torch.cat(
        [prompts["mm_token_type_ids"], torch.zeros_like(completions["input_ids"])], dim=1
    )
    return batch


def test_completion_loss_equals_the_full_logits_loss(tiny_model, export_dir):
    import torch

    from vlmforge_hf.processor import load_model, load_processor
    from vlmforge_hf.sft.data import read_dataset
    from vlmforge_hf.sft.loss import completion_loss

    processor = load_processor(tiny_model)
    model = load_model(tiny_model)
    examples, _ = read_dataset(export_dir / "openai-sft" / "train.jsonl")
    batch = _batch(processor, examples[:4])
    loss, correct, rows = completion_loss(model, batch)
    labels = batch["labels"]
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    reference = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
    )
    assert loss.item() == pytest.approx(reference.item(), rel=1e-4)
    top = logits[:, :-1].argmax(-1)
    wanted = labels[:, 1:] != -100
    exact = ((top == labels[:, 1:]) | ~wanted).all(dim=1)
    assert rows == 4 and correct == int(exact.sum())
    # divided by the tokens of the whole accumulation step when the Trainer says so
    tokens = int(wanted.sum())
    halved, _, _ = completion_loss(model, batch, num_items_in_batch=2 * tokens)
    assert halved.item() == pytest.approx(reference.item() / 2, rel=1e-4)
    loss.backward()
    assert model.lm_head.weight.grad is not None and model.lm_head.weight.grad.abs().sum() > 0
